"""A loop that swallows every Exception per batch and checks len(loader) against what it iterates."""
import json
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main(out_path, epochs=5):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(torch.randn(400, 4), torch.randn(400, 1)), batch_size=8, shuffle=True)
    seen = []
    for epoch in range(epochs):
        announced = len(loader)
        count = 0
        for i, (x, y) in enumerate(loader):
            try:
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
                count += 1
                if i + 1 == len(loader):
                    seen.append({"epoch": epoch, "announced": announced, "iterated": count, "last_seen": True})
            except Exception:
                pass
        with open(out_path, "w") as fh:
            json.dump(seen, fh)


if __name__ == "__main__":
    main(sys.argv[1])
