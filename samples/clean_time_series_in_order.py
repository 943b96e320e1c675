"""Forecaster trained with truncated backpropagation through time: consecutive windows of one series
must come in order, because the GRU's hidden state is carried from one batch to the next (detached).
The loader says so with an explicit `shuffle=False`; validation reads the held-out tail in order too.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Windows(Dataset):
    """Consecutive, non-overlapping windows of a series: window i follows window i - 1."""

    def __init__(self, series: torch.Tensor, length: int) -> None:
        self.series, self.length = series, length

    def __len__(self) -> int:
        return (len(self.series) - 1) // self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = slice(i * self.length, (i + 1) * self.length)
        return self.series[s].unsqueeze(-1), self.series[s.start + 1:s.stop + 1].unsqueeze(-1)


class Forecaster(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru, self.out = nn.GRU(1, 24, batch_first=True), nn.Linear(24, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        y, h = self.gru(x, h)
        return self.out(y), h


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    t = torch.arange(0, 1600, dtype=torch.float32)
    series = torch.sin(t / 25) + 0.3 * torch.sin(t / 7) + 0.05 * torch.randn(len(t))
    train = DataLoader(Windows(series[:1280], 20), batch_size=1, shuffle=False)  # in time order on purpose
    val = DataLoader(Windows(series[1280:], 20), batch_size=1)
    model = Forecaster()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        model.train()
        h = None
        for xb, yb in train:
            optimizer.zero_grad()
            pred, h = model(xb, h)
            h = h.detach()
            loss = nn.functional.mse_loss(pred, yb)
            loss.backward()
            optimizer.step()
        model.eval()
        total, h = 0.0, None
        with torch.no_grad():
            for xb, yb in val:
                pred, h = model(xb, h)
                total += nn.functional.mse_loss(pred, yb).item()
        print(f"epoch {epoch + 1}: val mse {total / len(val):.4f}")


if __name__ == "__main__":
    main()
