"""Small CNN classifier whose validation loop forgets torch.no_grad().

Bug: evaluation forwards are recorded by autograd (the model is in eval mode, but every
activation is kept for a backward that never runs), wasting memory and time.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    total = 0.0
    for xb, yb in loader:  # expect: FX304
        logits = model(xb)
        total += nn.functional.cross_entropy(logits, yb).item()
    return total / len(loader)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    images, labels = torch.randn(448, 1, 10, 10), torch.randint(0, 4, (448,))
    train = DataLoader(TensorDataset(images[:384], labels[:384]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(images[384:], labels[384:]), batch_size=32)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Dropout(0.25), nn.Linear(512, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: train {loss.item():.4f}  val {evaluate(model, val):.4f}")


if __name__ == "__main__":
    main()
