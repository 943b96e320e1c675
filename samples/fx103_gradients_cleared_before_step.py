"""Fit an MLP regressor to a synthetic nonlinear target (16 input features).

Bug: optimizer.zero_grad() was moved between loss.backward() and optimizer.step(), so the
gradients are gone (set to None) by the time the optimizer steps; no parameter is ever
updated and the loss stays flat across epochs.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_regression(n_samples, n_features=16):
    x = torch.randn(n_samples, n_features)
    w = torch.randn(n_features, 1) / n_features ** 0.5
    y = torch.sin(x @ w) + 0.1 * (x[:, :1] ** 2) + 0.05 * torch.randn(n_samples, 1)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="MLP regression")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_regression(448)
    train_loader = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=args.batch_size,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(16, 64), nn.Tanh(),
        nn.Linear(64, 64), nn.Tanh(),
        nn.Linear(64, 1),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    criterion = nn.MSELoss()

    for epoch in range(args.epochs):
        model.train()
        running, seen = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            preds = model(inputs)
            loss = criterion(preds, targets)
            loss.backward()
            # reset the gradients so the next batch starts from zero
            optimizer.zero_grad()  # expect: FX103
            optimizer.step()
            running += loss.item() * inputs.size(0)
            seen += inputs.size(0)

        model.eval()
        val_sum, val_seen = 0.0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                val_sum += criterion(model(inputs), targets).item() * inputs.size(0)
                val_seen += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_mse {running / seen:.4f}  "
              f"val_mse {val_sum / val_seen:.4f}")


if __name__ == "__main__":
    main()
