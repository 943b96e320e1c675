"""Small CNN classifier with gradient accumulation over 4 micro-batches per optimizer step.

Bug: an epoch has 18 micro-batches and the loop steps only when (i + 1) % 4 == 0, so the last 2
micro-batches of every epoch are computed and then cleared by the next epoch's zero_grad.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACCUM = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                          nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    images, labels = torch.randn(288, 1, 12, 12), torch.randint(0, 10, (288,))
    loader = DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True)  # 18 batches

    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()  # expect: FX402
        running = 0.0
        for i, (xb, yb) in enumerate(loader):
            loss = nn.functional.cross_entropy(model(xb), yb) / ACCUM
            loss.backward()
            running += loss.item() * ACCUM
            if (i + 1) % ACCUM == 0:
                optimizer.step()
                optimizer.zero_grad()
        print(f"epoch {epoch + 1}: loss {running / len(loader):.4f}")


if __name__ == "__main__":
    main()
