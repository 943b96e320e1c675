"""Bidirectional LSTM tagger-style classifier on synthetic sequences.

Gradient accumulation with DDP on two CPU processes (multiprocessing, spawn).

    python ok10_lstm_accum_grad_sync.py --epochs 3 --accum 3
"""
import argparse
import multiprocessing
import os
import socket
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world-size", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--accum", type=int, default=3)
    ap.add_argument("--seq-len", type=int, default=16)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=24)
    ap.add_argument("--samples", type=int, default=576)
    ap.add_argument("--val-samples", type=int, default=128)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "ok10_lstm.pt"))
    return ap.parse_args()


def get_free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_sequences(n, seq_len, dim, seed):
    """Label: which half of the sequence has the larger mean of feature 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, seq_len, dim, generator=g)
    half = seq_len // 2
    y = (x[:, half:, 0].mean(1) > x[:, :half, 0].mean(1)).long()
    return TensorDataset(x, y)


class BiLSTM(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.1)
        self.fc = nn.Linear(2 * hidden, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(self.dropout(out.mean(dim=1)))


def validate(net, loader):
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (net(x).argmax(-1) == y).sum().item()
            total += y.numel()
    return correct / max(total, 1)


def worker(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)

    train_set = make_sequences(args.samples, args.seq_len, args.dim, args.seed)
    val_set = make_sequences(args.val_samples, args.seq_len, args.dim, args.seed + 100)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=args.seed, drop_last=True)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, num_workers=0)
    val_loader = DataLoader(val_set, batch_size=64, num_workers=0)

    model = DDP(BiLSTM(args.dim, args.hidden))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=1e-4)
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = len(loader) // args.accum

    if rank == 0:
        print(f"{len(loader)} micro-batches/rank/epoch -> {steps_per_epoch} optimizer steps")

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        t0 = time.time()
        meter = torch.zeros(2)
        batches = iter(loader)
        for step in range(steps_per_epoch):
            optimizer.zero_grad(set_to_none=True)
            for micro in range(args.accum):
                x, y = next(batches)
                model.require_backward_grad_sync = (micro == args.accum - 1)
                loss = criterion(model(x), y)
                (loss / args.accum).backward()
                meter += torch.tensor([loss.item() * y.size(0), y.size(0)])
            nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
        scheduler.step()

        dist.all_reduce(meter)
        if rank == 0:
            acc = validate(model.module, val_loader)
            print(f"epoch {epoch}: train_loss {meter[0] / meter[1]:.4f}  val_acc {acc:.3f}  "
                  f"lr {scheduler.get_last_lr()[0]:.2e}  {time.time() - t0:.1f}s")
            torch.save({"epoch": epoch, "model": model.module.state_dict(),
                        "optim": optimizer.state_dict()}, args.out)

    dist.destroy_process_group()


def main():
    args = parse_args()
    port = get_free_port()
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for rank in range(args.world_size):
        p = ctx.Process(target=worker, args=(rank, args.world_size, port, args))
        p.start()
        procs.append(p)
    for p in procs:
        p.join()
    sys.exit(max(p.exitcode for p in procs))


if __name__ == "__main__":
    main()
