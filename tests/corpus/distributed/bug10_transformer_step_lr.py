"""Tiny transformer encoder for synthetic token classification, DDP on CPU.

Label = whether token 1 appears more often than token 2 in the sequence.

    python bug10_transformer_step_lr.py --epochs 3
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
    p = argparse.ArgumentParser()
    p.add_argument("--nprocs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--vocab", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=24)
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--samples", type=int, default=1024)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--save-dir", default=os.path.join(tempfile.gettempdir(), "tiny_encoder"))
    return p.parse_args()


def token_dataset(n, vocab, seq_len, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (n, seq_len), generator=g)
    labels = ((tokens == 1).sum(1) > (tokens == 2).sum(1)).long()
    return TensorDataset(tokens, labels)


class TinyEncoder(nn.Module):
    def __init__(self, vocab, seq_len, d_model, heads, layers, num_classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(1, seq_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model,
                                           dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, tokens):
        h = self.embed(tokens) + self.pos[:, : tokens.size(1)]
        h = self.encoder(h)
        return self.head(self.norm(h.mean(dim=1)))


def run(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)

    torch.manual_seed(args.seed)
    data = token_dataset(args.samples, args.vocab, args.seq_len, args.seed)
    sampler = DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=True)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, num_workers=0)

    model = TinyEncoder(args.vocab, args.seq_len, args.d_model, args.heads, args.layers)
    model = DDP(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    criterion = nn.CrossEntropyLoss()

    if rank == 0:
        os.makedirs(args.save_dir, exist_ok=True)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"params={n_params}  steps/epoch/rank={len(loader)}")

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        tic = time.time()
        agg = torch.zeros(3)
        for tokens, labels in loader:
            logits = model(tokens)
            loss = criterion(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            agg[0] += loss.item() * labels.size(0)
            agg[1] += (logits.argmax(-1) == labels).sum().item()
            agg[2] += labels.size(0)

        dist.all_reduce(agg, op=dist.ReduceOp.SUM)
        if rank == 0:
            print(f"epoch {epoch:02d} | loss {agg[0] / agg[2]:.4f} | acc {agg[1] / agg[2]:.3f} | "
                  f"lr {optimizer.param_groups[0]['lr']:.2e} | {time.time() - tic:.1f}s")
            torch.save({"epoch": epoch,
                        "model": model.module.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict()},
                       os.path.join(args.save_dir, "checkpoint.pt"))
            scheduler.step()

    dist.destroy_process_group()


if __name__ == "__main__":
    args = parse_args()
    port = None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(run, args=(args.nprocs, port, args), nprocs=args.nprocs)
