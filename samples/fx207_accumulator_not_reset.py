"""Tabular classifier whose per-epoch report reuses running totals.

Bug: `running_loss` and `correct` are initialised once, before the epoch loop, so every epoch's
reported loss and accuracy silently include all earlier epochs.
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
    x = torch.randn(384, 12)
    y = (x[:, 0] + x[:, 1] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    running_loss = 0.0
    correct = 0
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()  # expect: FX207
            correct += (logits.argmax(1) == yb).sum().item()  # expect: FX207
        print(f"epoch {epoch + 1}: loss {running_loss / len(loader):.4f}  acc {correct / len(loader.dataset):.3f}")


if __name__ == "__main__":
    main()
