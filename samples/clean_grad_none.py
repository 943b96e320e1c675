"""Train an MLP regressor on synthetic tabular data, clearing gradients by hand.

Instead of optimizer.zero_grad(), the gradients are dropped with `p.grad = None` for every
parameter after each optimizer step, which frees the gradient memory until the next backward.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_regression(n_samples, n_features=12):
    x = torch.randn(n_samples, n_features)
    w1 = torch.randn(n_features, 8)
    w2 = torch.randn(8, 1)
    y = torch.relu(x @ w1) @ w2 / 4 + 0.1 * torch.randn(n_samples, 1)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="MLP regression, manual grad clearing")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_regression(448)
    train_loader = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=64,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(12, 96), nn.SiLU(),
        nn.Linear(96, 96), nn.SiLU(),
        nn.Linear(96, 1),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.SmoothL1Loss()

    for epoch in range(args.epochs):
        model.train()
        running, seen = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            for p in model.parameters():
                p.grad = None
            running += loss.item() * inputs.size(0)
            seen += inputs.size(0)

        model.eval()
        val_sum, val_seen = 0.0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                val_sum += criterion(model(inputs), targets).item() * inputs.size(0)
                val_seen += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {running / seen:.4f}  "
              f"val_loss {val_sum / val_seen:.4f}")


if __name__ == "__main__":
    main()
