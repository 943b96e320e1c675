"""Classifier whose backbone is meant to stay frozen, as in detection libraries' `frozen_stages`: the
freeze is applied in the model's `train()` override, but only once the model has been set up for a
first epoch, so the first epoch's steps train the backbone before it is frozen for the rest of the run.

    fxcheck trace samples/fx209_freeze_applied_late.py
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.head = nn.Linear(32, 3)
        self.epochs_seen = 0

    def train(self, mode: bool = True) -> "Net":
        super().train(mode)
        if mode:
            if self.epochs_seen > 0:  # frozen_stages: should hold from the start
                self.backbone.requires_grad_(False)
            self.epochs_seen += 1
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(384, 12)
    y = torch.bucketize(x[:, 0] + x[:, 1], torch.tensor([-0.5, 0.5]))
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = Net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()  # expect: FX209
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
