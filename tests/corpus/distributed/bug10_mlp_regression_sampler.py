"""Distributed MLP regression on a synthetic nonlinear target.

Launch with torchrun, for example:

    torchrun --nproc-per-node 2 bug10_mlp_regression_sampler.py --epochs 4
"""
import argparse
import os
import tempfile
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args():
    p = argparse.ArgumentParser(description="DDP MLP regression (CPU / gloo)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--n-samples", type=int, default=1024)
    p.add_argument("--in-dim", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--out-dir", type=str,
                   default=os.path.join(tempfile.gettempdir(), "ddp_mlp_regression"))
    return p.parse_args()


def make_dataset(n, dim, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    w = torch.randn(dim, 1, generator=g) / dim ** 0.5
    y = torch.sin(3.0 * (x @ w)) + 0.5 * (x[:, :1] ** 2) + 0.05 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


class MLP(nn.Module):
    def __init__(self, in_dim, hidden):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x)


def main():
    args = parse_args()
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    world_size = dist.get_world_size()
    torch.manual_seed(args.seed)

    dataset = make_dataset(args.n_samples, args.in_dim, args.seed)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                 shuffle=True, seed=args.seed)
    train_loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler,
                              num_workers=0, drop_last=True)

    model = MLP(args.in_dim, args.hidden)
    ddp_model = DDP(model)
    optimizer = torch.optim.AdamW(ddp_model.parameters(), lr=args.lr,
                                  weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    loss_fn = nn.MSELoss()

    if rank == 0:
        os.makedirs(args.out_dir, exist_ok=True)
        print(f"world_size={world_size} batches/rank/epoch={len(train_loader)}")

    for epoch in range(args.epochs):
        ddp_model.train()
        t0 = time.time()
        stats = torch.zeros(2)  # sum of losses, number of samples
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=True)
            pred = ddp_model(x)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            stats[0] += loss.detach() * x.size(0)
            stats[1] += x.size(0)
        scheduler.step()

        dist.all_reduce(stats, op=dist.ReduceOp.SUM)
        if rank == 0:
            mse = (stats[0] / stats[1]).item()
            print(f"epoch {epoch + 1}/{args.epochs}  train_mse={mse:.4f}  "
                  f"lr={scheduler.get_last_lr()[0]:.2e}  time={time.time() - t0:.2f}s")
            torch.save({"epoch": epoch, "model": ddp_model.module.state_dict(),
                        "optimizer": optimizer.state_dict()},
                       os.path.join(args.out_dir, "last.pt"))

    dist.destroy_process_group()


if __name__ == "__main__":
    main()
