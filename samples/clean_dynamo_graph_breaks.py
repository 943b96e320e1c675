"""A forward TorchDynamo cannot capture in one graph: it logs a statistic with `.item()`, branches on a
tensor's value and calls NumPy, so Dynamo splits it (graph breaks). Training and evaluation are
correct; fxcheck notes the breaks and still reports the layers that ran."""
import argparse

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class GatedNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(12, 48), nn.BatchNorm1d(48), nn.ReLU())
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(48, 1)
        self.activation_log: list[float] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        self.activation_log.append(h.abs().mean().item())
        if h.mean() > 0:
            h = h * float(np.tanh(len(self.activation_log) / 10.0) + 1.0)
        return self.head(self.drop(h))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(400, 12)
    y = x[:, :3].sum(1, keepdim=True)
    train = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[320:], y[320:]), batch_size=40)
    model = GatedNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = sum(nn.functional.mse_loss(model(xb), yb).item() for xb, yb in val) / len(val)
        print(f"epoch {epoch + 1}: train {loss.item():.4f}  val {val_loss:.4f}")


if __name__ == "__main__":
    main()
