"""MLP regression with LR warmup and ReduceLROnPlateau, two DDP processes.

Reports a float64 reference validation error for the final model.

    python ok10_mlp_plateau_warmup.py --epochs 4
"""
import argparse
import copy
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


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--in-dim", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=832)
    parser.add_argument("--val-size", type=int, default=256)
    parser.add_argument("--base-lr", type=float, default=5e-3)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=31)
    return parser.parse_args()


def reserve_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def friedman_like(n, dim, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, dim, generator=g)
    y = (10 * torch.sin(torch.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2
         + 10 * x[:, 3] + 5 * x[:, 4]) / 10.0
    y = y + 0.1 * torch.randn(n, generator=g)
    return TensorDataset(x, y.unsqueeze(1))


def build_model(in_dim, hidden):
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(),
                         nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, 1))


def shard_loss(net, loader, dtype=torch.float32):
    """Sum of squared errors and count over this rank's loader."""
    net.eval()
    sse = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for x, y in loader:
            pred = net(x.to(dtype))
            sse[0] += ((pred - y.to(dtype)) ** 2).sum().double()
            sse[1] += y.numel()
    return sse


def run(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)

    train_set = friedman_like(args.train_size, args.in_dim, args.seed)
    val_set = friedman_like(args.val_size, args.in_dim, args.seed + 7)
    train_sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True)
    val_sampler = DistributedSampler(val_set, num_replicas=world_size, rank=rank, shuffle=False)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=train_sampler,
                              num_workers=0)
    val_loader = DataLoader(val_set, batch_size=64, sampler=val_sampler, num_workers=0)

    model = DDP(build_model(args.in_dim, args.hidden))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.base_lr / args.warmup_steps)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5,
                                                         patience=0, threshold=1e-3)
    loss_fn = nn.MSELoss()

    global_step = 0
    for epoch in range(args.epochs):
        train_sampler.set_epoch(epoch)
        model.train()
        t0 = time.time()
        train_sum = torch.zeros(2)
        for x, y in train_loader:
            if global_step < args.warmup_steps:
                for group in optimizer.param_groups:
                    group["lr"] = args.base_lr * (global_step + 1) / args.warmup_steps
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            global_step += 1
            train_sum += torch.tensor([loss.item() * y.size(0), y.size(0)])

        val_sse = shard_loss(model.module, val_loader)
        dist.all_reduce(train_sum)
        dist.all_reduce(val_sse)
        val_mse = (val_sse[0] / val_sse[1]).item()
        plateau.step(val_mse)

        if rank == 0:
            print(f"epoch {epoch + 1}: train_mse={train_sum[0] / train_sum[1]:.4f} "
                  f"val_mse={val_mse:.4f} lr={optimizer.param_groups[0]['lr']:.2e} "
                  f"step={global_step} ({time.time() - t0:.2f}s)")

    if rank == 0:
        ref = copy.deepcopy(model.module).double()
        full_loader = DataLoader(val_set, batch_size=128, num_workers=0)
        sse = shard_loss(ref, full_loader, dtype=torch.float64)
        print(f"float64 reference val_mse={(sse[0] / sse[1]).item():.6f}")

    dist.destroy_process_group()


def main():
    args = parse_args()
    port = reserve_port()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=run, args=(r, args.world_size, port, args))
             for r in range(args.world_size)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        print("a worker failed with exit codes", bad, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
