"""MLP classifier trained with gradient accumulation over 4 micro-batches, 18 batches per epoch.

Bug: the loop steps only on `(i + 1) % accum == 0` and clears gradients only after a step, so the
last 2 micro-batches of each epoch are never stepped: their gradients stay in `.grad` and are added
to the next epoch's first update, which then mixes 6 micro-batches from two epochs."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--accum", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(576, 20)
    y = (x[:, :3].sum(1) > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(args.epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            loss = nn.functional.cross_entropy(model(xb), yb) / args.accum
            loss.backward()  # expect: FX101
            if (i + 1) % args.accum == 0:
                optimizer.step()
                optimizer.zero_grad()
        print(f"epoch {epoch}: last loss {loss.item() * args.accum:.4f}")


if __name__ == "__main__":
    main()
