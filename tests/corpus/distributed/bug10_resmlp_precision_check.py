"""Residual MLP classifier on synthetic tabular data, two DDP ranks on CPU.

Before training, the initial loss is compared between float32 and float64 to
make sure the initialisation is numerically sane.

    python bug10_resmlp_precision_check.py --epochs 3
"""
import argparse
import multiprocessing as mp
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def get_args():
    parser = argparse.ArgumentParser(description="ResMLP DDP example")
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--train-samples", type=int, default=896)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=99)
    return parser.parse_args()


def find_free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _, port = sock.getsockname()
    sock.close()
    return port


def make_tabular(n, features, classes, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    proj = torch.randn(features, classes, generator=g)
    logits = x @ proj + 0.5 * torch.randn(n, classes, generator=g)
    return TensorDataset(x, logits.argmax(dim=1))


class ResBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


class ResMLP(nn.Module):
    def __init__(self, features, width, blocks, classes):
        super().__init__()
        self.inp = nn.Linear(features, width)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.out = nn.Linear(width, classes)

    def forward(self, x):
        return self.out(self.blocks(self.inp(x)))


def worker(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)

    train_set = make_tabular(args.train_samples, args.features, args.classes, args.seed)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank,
                                 shuffle=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, num_workers=0)

    model = DDP(ResMLP(args.features, args.width, args.blocks, args.classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    # Sanity check: initial loss in fp32 vs fp64 on the first batch.
    xb, yb = next(iter(loader))
    with torch.no_grad():
        loss32 = criterion(model.module(xb), yb).item()
        model.module.to(torch.float64)
        loss64 = criterion(model.module(xb.double()), yb).item()
        model.module.to(torch.float32)
    if rank == 0:
        print(f"initial loss fp32={loss32:.6f} fp64={loss64:.6f} diff={abs(loss32 - loss64):.2e}")

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        t0 = time.time()
        stats = torch.zeros(3)
        for batch_idx, (x, y) in enumerate(loader):
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
            stats += torch.tensor([loss.item() * len(y), (logits.argmax(1) == y).sum().item(), len(y)])
        dist.all_reduce(stats)
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs} loss={stats[0] / stats[2]:.4f} "
                  f"acc={stats[1] / stats[2]:.3f} time={time.time() - t0:.2f}s", flush=True)

    dist.destroy_process_group()


def main():
    args = get_args()
    port = find_free_port()
    ctx = mp.get_context("spawn")
    workers = []
    for rank in range(args.world_size):
        proc = ctx.Process(target=worker, args=(rank, args.world_size, port, args), daemon=False)
        proc.start()
        workers.append(proc)
    for proc in workers:
        proc.join()
    if any(proc.exitcode != 0 for proc in workers):
        sys.exit(1)


if __name__ == "__main__":
    main()
