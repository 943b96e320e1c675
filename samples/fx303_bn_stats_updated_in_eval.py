"""Contrastive-style encoder + projector (two separate modules), linear-probe validation.

Bug: validation switches only the encoder to eval mode; the projector's BatchNorm1d stays in training
mode, so every validation batch is normalized with its own statistics and moves the running ones.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 24, generator=g)
    y = (x[:, :3].sum(1) > 0).long()
    return TensorDataset(x, y)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    train = DataLoader(make_data(512, 1), batch_size=32, shuffle=True)
    val = DataLoader(make_data(128, 2), batch_size=32)
    encoder = nn.Sequential(nn.Linear(24, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 32))
    projector = nn.Sequential(nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(list(encoder.parameters()) + list(projector.parameters()), lr=0.05, momentum=0.9)

    for epoch in range(args.epochs):
        encoder.train()
        projector.train()
        for xb, yb in train:
            loss = nn.functional.cross_entropy(projector(encoder(xb)), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        encoder.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in val:  # expect: FX302  # expect: FX303
                correct += (projector(encoder(xb)).argmax(1) == yb).sum().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  val acc {correct / len(val.dataset):.3f}")


if __name__ == "__main__":
    main()
