"""Regressor with spectral norm through the parametrization API
(`torch.nn.utils.parametrizations.spectral_norm`), which runs its power iterations when it is
registered: the baseline validation before training is already correctly normalised.
"""
import argparse

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from torch.utils.data import DataLoader, TensorDataset


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for xb, yb in loader:
            total += nn.functional.mse_loss(model(xb), yb, reduction="sum").item()
    return total / len(loader.dataset)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(448, 8)
    y = x[:, :2].prod(1, keepdim=True) + 0.1 * torch.randn(448, 1)
    train = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=32)
    model = nn.Sequential(spectral_norm(nn.Linear(8, 64)), nn.ReLU(), spectral_norm(nn.Linear(64, 1)))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    print(f"baseline val mse {evaluate(model, val):.3f}")
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(xb), yb).backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: val mse {evaluate(model, val):.4f}")


if __name__ == "__main__":
    main()
