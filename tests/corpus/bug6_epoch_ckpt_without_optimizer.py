"""Tabular regression (synthetic "energy use" data) with an AdamW-trained residual MLP.

A resumable run: after every epoch a checkpoint with the epoch number, the model weights and the
best validation loss is written to the run directory, and ``--resume`` restarts from it.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.linspace(-1.0, 1.0, d)
    y = x @ w + 0.5 * torch.sin(3 * x[:, 0]) * x[:, 1] + 0.1 * torch.randn(n, generator=g)
    return x, y.unsqueeze(1)


class ResBlock(nn.Module):
    def __init__(self, width, p):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(),
                                 nn.Dropout(p), nn.Linear(width, width))

    def forward(self, x):
        return x + self.net(x)


class ResMLP(nn.Module):
    def __init__(self, d_in, width=64, depth=2, p=0.1):
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.blocks = nn.Sequential(*[ResBlock(width, p) for _ in range(depth)])
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        return self.out(self.blocks(self.inp(x)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch_size", type=int, default=64)
    ap.add_argument("--run_dir", default="")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(42)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="energy_")
    ckpt_path = os.path.join(run_dir, "last.pt")

    xtr, ytr = make_dataset(640, 12, seed=0)
    xva, yva = make_dataset(160, 12, seed=1)
    mean, std = xtr.mean(0), xtr.std(0)
    xtr, xva = (xtr - mean) / std, (xva - mean) / std
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=80)

    model = ResMLP(12)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    loss_fn = nn.MSELoss()
    start_epoch, best_val = 0, float("inf")
    if args.resume and os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path)
        model.load_state_dict(ckpt["model_state_dict"])
        start_epoch, best_val = ckpt["epoch"] + 1, ckpt["best_val"]
        print(f"resumed from epoch {ckpt['epoch']}")

    for epoch in range(start_epoch, args.epochs):
        model.train()
        train_sum = 0.0
        for xb, yb in train_loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            train_sum += loss.item() * xb.size(0)

        model.eval()
        val_sum = 0.0
        with torch.no_grad():
            for xb, yb in val_loader:
                val_sum += loss_fn(model(xb), yb).item() * xb.size(0)
        train_loss = train_sum / len(train_loader.dataset)
        val_loss = val_sum / len(val_loader.dataset)
        best_val = min(best_val, val_loss)
        torch.save({"epoch": epoch, "model_state_dict": model.state_dict(), "best_val": best_val}, ckpt_path)
        print(f"epoch {epoch:2d}  train mse {train_loss:.4f}  val mse {val_loss:.4f}  best {best_val:.4f}")


if __name__ == "__main__":
    main()
