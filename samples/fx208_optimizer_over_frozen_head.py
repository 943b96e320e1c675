"""Fine-tune that was meant to train the new head and BatchNorm only: the freeze loop also freezes the
head, and the optimizer is built over the head alone. Every optimizer.step() updates nothing, while the
loss still moves a little because BatchNorm keeps updating its running statistics.

    fxcheck trace samples/fx208_optimizer_over_frozen_head.py
"""
import argparse
from collections import OrderedDict

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(384, 16)
    y = (x[:, :4].sum(1) > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(16, 32), bn=nn.BatchNorm1d(32), act=nn.ReLU(),
                                      head=nn.Linear(32, 2)))
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(("bn.", "classifier."))  # the head is called `head`
    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()  # expect: FX205
            optimizer.step()  # expect: FX208
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
