"""Dropout MLP regressor for a synthetic "energy use" target, with gradient accumulation.

Batches come through a prefetching generator that keeps the next batch in hand (already moved to
the device) before yielding the current one. The optimizer steps every --accum_steps micro-batches
and on the final micro-batch of the epoch, so the short tail is never lost or carried over.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_energy(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    temp = 30 * torch.rand(n, generator=g) - 5
    hour = torch.randint(0, 24, (n,), generator=g).float()
    occupancy = torch.rand(n, generator=g)
    area = 50 + 150 * torch.rand(n, generator=g)
    x = torch.stack([temp / 30, torch.sin(2 * math.pi * hour / 24), torch.cos(2 * math.pi * hour / 24),
                     occupancy, area / 200], dim=1)
    y = 0.02 * area * (1 + 0.8 * occupancy) + 0.05 * (temp - 18).abs() * area / 100
    y = y + 0.2 * torch.randn(n, generator=g)
    return x, y.unsqueeze(1)


def prefetch(loader, device):
    """Yield batches from loader while the following batch is already fetched and on device."""
    it = iter(loader)
    try:
        nxt = [t.to(device, non_blocking=True) for t in next(it)]
    except StopIteration:
        return
    for batch in it:
        current, nxt = nxt, [t.to(device, non_blocking=True) for t in batch]
        yield current
    yield nxt


class Regressor(nn.Module):
    def __init__(self, d_in, hidden=64, p_drop=0.1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d_in, hidden), nn.SiLU(), nn.Dropout(p_drop),
            nn.Linear(hidden, hidden), nn.SiLU(), nn.Dropout(p_drop),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.body(x)


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    se, n = 0.0, 0
    for x, y in prefetch(loader, device):
        se += F.mse_loss(model(x), y, reduction="sum").item()
        n += y.numel()
    return se / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--micro_batch", type=int, default=20)
    parser.add_argument("--accum_steps", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    torch.manual_seed(3)
    device = torch.device("cpu")

    x, y = make_energy(400)
    train_loader = DataLoader(TensorDataset(x[:180], y[:180]), batch_size=args.micro_batch, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[180:], y[180:]), batch_size=50)

    model = Regressor(x.size(1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    num_updates = args.epochs * math.ceil(len(train_loader) / args.accum_steps)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=num_updates)

    for epoch in range(args.epochs):
        model.train()
        running, seen = 0.0, 0
        for i, (xb, yb) in enumerate(prefetch(train_loader, device)):
            loss = F.mse_loss(model(xb), yb)
            (loss / args.accum_steps).backward()
            running += loss.item() * yb.size(0)
            seen += yb.size(0)
            if (i + 1) % args.accum_steps == 0 or i + 1 == len(train_loader):
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
        val_mse = evaluate(model, val_loader, device)
        print(f"epoch {epoch}: train mse {running / seen:.4f} | val mse {val_mse:.4f} "
              f"| lr {scheduler.get_last_lr()[0]:.2e}")


if __name__ == "__main__":
    main()
