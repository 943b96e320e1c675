"""Stateful LSTM forecaster trained with truncated BPTT.

The series is cut into `n_streams` contiguous streams; batch t holds chunk t of
every stream, so the hidden state at the end of batch t is the correct initial
state for batch t+1. The loader therefore MUST visit chunks in time order.
"""
import argparse
import logging
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.set_num_threads(1)
log = logging.getLogger("tbptt")


def synthetic_series(length, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    series = torch.sin(2 * torch.pi * t / 50) + 0.5 * torch.sin(2 * torch.pi * t / 13 + 1.0)
    series = series + 0.002 * t + 0.1 * torch.randn(length, generator=g)
    return series


class StreamChunks(Dataset):
    """Item t = (inputs, targets) of shape (n_streams, bptt, 1) for time chunk t."""

    def __init__(self, series, n_streams, bptt):
        usable = (len(series) - 1) // (n_streams * bptt) * (n_streams * bptt)
        self.x = series[:usable].view(n_streams, -1)
        self.y = series[1:usable + 1].view(n_streams, -1)
        self.bptt = bptt

    def __len__(self):
        return self.x.size(1) // self.bptt

    def __getitem__(self, t):
        sl = slice(t * self.bptt, (t + 1) * self.bptt)
        return self.x[:, sl].unsqueeze(-1), self.y[:, sl].unsqueeze(-1)


class Forecaster(nn.Module):
    def __init__(self, hidden=32, layers=2):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=layers, batch_first=True, dropout=0.1)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out), state


def detach_state(state):
    return tuple(s.detach() for s in state)


def train_epoch(model, loader, optimizer, clip):
    model.train()
    state = None
    total, n = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        pred, state = model(x, state)
        loss = F.mse_loss(pred, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        state = detach_state(state)  # truncate BPTT at the chunk boundary
        total += loss.item() * y.numel()
        n += y.numel()
    return total / n


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    state = None
    total, n = 0.0, 0
    for x, y in loader:
        pred, state = model(x, state)
        total += F.mse_loss(pred, y, reduction="sum").item()
        n += y.numel()
    return total / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-streams", type=int, default=8)
    ap.add_argument("--bptt", type=int, default=25)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=123)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(args.seed)

    series = synthetic_series(4000, seed=args.seed)
    split = 3200
    mean, std = series[:split].mean(), series[:split].std()
    series = (series - mean) / std
    train_ds = StreamChunks(series[:split], args.n_streams, args.bptt)
    val_ds = StreamChunks(series[split:], 4, args.bptt)
    # chunks are pre-batched (one item = all streams); order carries the LSTM state
    train_loader = DataLoader(train_ds, batch_size=None, shuffle=False)
    val_loader = DataLoader(val_ds, batch_size=None, shuffle=False)
    log.info("train chunks per epoch: %d, val chunks: %d", len(train_ds), len(val_ds))

    model = Forecaster()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.8)
    best = float("inf")
    ckpt = os.path.join(tempfile.gettempdir(), "tbptt_forecaster.pt")
    for epoch in range(args.epochs):
        tr = train_epoch(model, train_loader, optimizer, args.clip)
        va = evaluate(model, val_loader)
        scheduler.step()
        log.info("epoch %d train_mse %.4f val_mse %.4f", epoch, tr, va)
        if va < best:
            best = va
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "norm": (mean.item(), std.item()), "epoch": epoch}, ckpt)
    log.info("best val mse %.4f", best)


if __name__ == "__main__":
    main()
