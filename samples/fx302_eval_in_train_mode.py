"""Regressor with dropout and batch norm, with Monte-Carlo dropout at validation time.

Bug: the MC-dropout helper calls `model.train()` to enable dropout, which also puts BatchNorm in
training mode, so validation normalizes with batch statistics and updates the running ones.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def enable_mc_dropout(model: nn.Module) -> None:
    model.train()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(448, 16)
    y = x[:, :2].sum(1, keepdim=True)
    train = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=32)
    model = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        enable_mc_dropout(model)
        mse = 0.0
        with torch.no_grad():
            for xb, yb in val:  # expect: FX302  # expect: FX303
                samples = torch.stack([model(xb) for _ in range(4)])
                mse += nn.functional.mse_loss(samples.mean(0), yb).item()
        print(f"epoch {epoch + 1}: train {loss.item():.4f}  val mse {mse / len(val):.4f}")


if __name__ == "__main__":
    main()
