"""LSTM forecaster on synthetic noisy sine sequences with linear LR warmup.

    torchrun --nproc-per-node 2 bug10_lstm_warmup_lr.py --epochs 3

The model sees 30 steps of a noisy sine wave and predicts the next value.
"""
import argparse
import math
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args():
    ap = argparse.ArgumentParser(description="DDP LSTM forecaster with warmup")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--num-series", type=int, default=1024)
    ap.add_argument("--base-lr", type=float, default=1e-2)
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--log-every", type=int, default=8)
    ap.add_argument("--seed", type=int, default=5)
    return ap.parse_args()


def sine_windows(n, window, seed):
    g = torch.Generator().manual_seed(seed)
    freq = 0.1 + 0.3 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    t = torch.arange(window + 1).float()[None, :]
    series = torch.sin(freq * t + phase) + 0.05 * torch.randn(n, window + 1, generator=g)
    return TensorDataset(series[:, :-1, None], series[:, -1:])


class Forecaster(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
        self.proj = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.proj(out[:, -1])


def warmup_lr(step, base_lr, warmup_steps):
    return base_lr * min(1.0, (step + 1) / warmup_steps)


def main():
    args = parse_args()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)

    dataset = sine_windows(args.num_series, args.window, args.seed)
    sampler = DistributedSampler(dataset, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, num_workers=0)

    model = DDP(Forecaster(args.hidden))
    optimizer = torch.optim.Adam(model.parameters(), lr=warmup_lr(0, args.base_lr, args.warmup_steps))
    loss_fn = nn.SmoothL1Loss(beta=0.1)

    global_step = 0
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        t0 = time.time()
        epoch_loss = torch.zeros(2)
        for x, y in loader:
            lr = warmup_lr(global_step, args.base_lr, args.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr

            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            epoch_loss += torch.tensor([loss.item() * x.size(0), x.size(0)])

            if rank == 0:
                global_step += 1
                if global_step % args.log_every == 0:
                    print(f"  step {global_step:4d}  loss {loss.item():.4f}  lr {lr:.2e}")

        dist.all_reduce(epoch_loss)
        if rank == 0:
            print(f"epoch {epoch + 1}: mean loss {epoch_loss[0] / epoch_loss[1]:.4f} "
                  f"({time.time() - t0:.1f}s, world={world})")

    dist.destroy_process_group()


if __name__ == "__main__":
    main()
