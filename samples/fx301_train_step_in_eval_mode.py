"""MLP classifier with dropout and batch norm, validated after every epoch.

Bug: `model.train()` is called once before the epoch loop; after the first validation the model
stays in eval mode, so every later epoch trains without dropout and with frozen BN statistics.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(480, 20)
    y = (x[:, :3].sum(1) > 0).long()
    train = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=48)
    model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    model.train()
    for epoch in range(args.epochs):
        for xb, yb in train:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()  # expect: FX301
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in val:
                correct += (model(xb).argmax(1) == yb).sum().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  val acc {correct / 96:.3f}")


if __name__ == "__main__":
    main()
