"""The prefetching regressor of clean_prefetch_accumulation.py, stepping only on `(i + 1) % accum == 0`:
18 batches per epoch and accumulation 4 leave 2 micro-batches whose gradients the next epoch's
zero_grad throws away. The one-ahead prefetcher must not change what fxcheck learns (accumulation 4,
not 5) nor where it cuts the epoch (on the same phase as the real one)."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Prefetcher:
    """Yields the loader's batches, always holding the next one ready."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        it = iter(self.loader)
        try:
            upcoming = next(it)
        except StopIteration:
            return
        for batch in it:
            current, upcoming = upcoming, batch
            yield current
        yield upcoming


def train_epoch(model, loader, optimizer, accum: int) -> float:
    model.train()
    total = 0.0
    optimizer.zero_grad()  # expect: FX402
    for i, (x, y) in enumerate(loader):
        loss = nn.functional.mse_loss(model(x), y)
        (loss / accum).backward()
        total += loss.item()
        if (i + 1) % accum == 0:
            optimizer.step()
            optimizer.zero_grad()
    return total / len(loader)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--accum", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(288, 10)
    y = x @ torch.randn(10, 1) + 0.1 * torch.randn(288, 1)
    loader = Prefetcher(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True))
    model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(args.epochs):
        print(f"epoch {epoch}: train loss {train_epoch(model, loader, optimizer, args.accum):.4f}")


if __name__ == "__main__":
    main()
