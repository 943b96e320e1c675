"""A one-ahead prefetching loader with accumulation 4, stepping on `(i + 1) % 4 == 0 or i + 1 == len(loader)`.

Writes what the script saw per epoch (len() at every batch, batches, steps) to --seen, and the final
weights and validation losses to --out."""
import argparse
import json

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Prefetcher:
    def __init__(self, loader):
        self.loader = loader

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        it = iter(self.loader)
        upcoming = next(it)
        for batch in it:
            current, upcoming = upcoming, batch
            yield current
        yield upcoming


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--seen")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=180)  # 18 batches of 10
    args = parser.parse_args()
    torch.manual_seed(3)
    gen = torch.Generator().manual_seed(5)
    data = TensorDataset(torch.randn(args.samples, 6), torch.randn(args.samples, 1))
    loader = Prefetcher(DataLoader(data, batch_size=10, shuffle=True, generator=gen))
    val = DataLoader(TensorDataset(torch.randn(20, 6), torch.randn(20, 1)), batch_size=10)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    accum, seen, val_losses = 4, [], []
    for epoch in range(args.epochs):
        model.train()
        lengths, steps, batches = set(), 0, 0
        for i, (x, y) in enumerate(loader):
            (nn.functional.mse_loss(model(x), y) / accum).backward()
            batches += 1
            lengths.add(len(loader))
            if (i + 1) % accum == 0 or i + 1 == len(loader):
                opt.step()
                opt.zero_grad()
                steps += 1
        seen.append({"epoch": epoch, "lengths": sorted(lengths), "batches": batches, "steps": steps})
        if args.seen:
            with open(args.seen, "w") as fh:
                json.dump(seen, fh)
        model.eval()
        with torch.no_grad():
            for x, y in val:
                val_losses.append(nn.functional.mse_loss(model(x), y))
    if args.out:
        torch.save({**model.state_dict(), "val_losses": torch.stack(val_losses)}, args.out)


if __name__ == "__main__":
    main()
