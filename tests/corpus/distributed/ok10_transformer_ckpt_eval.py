"""Tiny transformer encoder: predict whether a token sequence is sorted-ish.

Two CPU ranks via torch.multiprocessing.spawn, StepLR schedule, rank-0 eval
and checkpointing.

    python ok10_transformer_ckpt_eval.py --epochs 3
"""
import argparse
import os
import socket
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args():
    p = argparse.ArgumentParser(description="tiny encoder, DDP on CPU")
    p.add_argument("--nprocs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--vocab", type=int, default=20)
    p.add_argument("--seq-len", type=int, default=12)
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--nhead", type=int, default=2)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--train-size", type=int, default=960)
    p.add_argument("--val-size", type=int, default=160)
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--ckpt-dir", default=os.path.join(tempfile.gettempdir(), "ok10_encoder"))
    return p.parse_args()


def make_split(n, vocab, seq_len, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (n, seq_len), generator=g)
    # half of the sequences get sorted, label 1
    label = torch.rand(n, generator=g) < 0.5
    tokens[label] = tokens[label].sort(dim=1).values
    return TensorDataset(tokens, label.long())


class Encoder(nn.Module):
    def __init__(self, vocab, seq_len, d_model, nhead, num_layers):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        block = nn.TransformerEncoderLayer(d_model=d_model, nhead=nhead,
                                           dim_feedforward=64, dropout=0.1,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(block, num_layers=num_layers,
                                             enable_nested_tensor=False)
        self.cls = nn.Linear(d_model, 2)

    def forward(self, tokens):
        positions = torch.arange(tokens.size(1), device=tokens.device)
        h = self.encoder(self.tok(tokens) + self.pos(positions)[None])
        return self.cls(h[:, 0])


@torch.no_grad()
def evaluate(net, loader):
    net.eval()
    loss_sum, correct, total = 0.0, 0, 0
    for tokens, labels in loader:
        logits = net(tokens)
        loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        total += labels.numel()
    return loss_sum / total, correct / total


def worker(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)

    train_set = make_split(args.train_size, args.vocab, args.seq_len, args.seed)
    val_set = make_split(args.val_size, args.vocab, args.seq_len, args.seed + 1)
    train_sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank,
                                       shuffle=True, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=train_sampler,
                              num_workers=0)
    val_loader = DataLoader(val_set, batch_size=80, num_workers=0)

    model = DDP(Encoder(args.vocab, args.seq_len, args.d_model, args.nhead, args.num_layers))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)

    if rank == 0:
        os.makedirs(args.ckpt_dir, exist_ok=True)
        print(f"{len(train_loader)} batches per rank, {args.epochs} epochs")

    for epoch in range(args.epochs):
        train_sampler.set_epoch(epoch)
        model.train()
        tic = time.time()
        stats = torch.zeros(2)
        for step, (tokens, labels) in enumerate(train_loader):
            optimizer.zero_grad()
            loss = criterion(model(tokens), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            stats[0] += loss.item() * labels.size(0)
            stats[1] += labels.size(0)
        scheduler.step()

        dist.all_reduce(stats, op=dist.ReduceOp.SUM)
        if rank == 0:
            val_loss, val_acc = evaluate(model.module, val_loader)
            print(f"epoch {epoch} | train {stats[0] / stats[1]:.4f} | val {val_loss:.4f} "
                  f"acc {val_acc:.3f} | lr {scheduler.get_last_lr()[0]:.1e} | {time.time() - tic:.1f}s")
            torch.save({"epoch": epoch, "model": model.module.state_dict(),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                       os.path.join(args.ckpt_dir, f"epoch_{epoch}.pt"))

    dist.destroy_process_group()


if __name__ == "__main__":
    args = parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    mp.spawn(worker, args=(args.nprocs, port, args), nprocs=args.nprocs, join=True)
