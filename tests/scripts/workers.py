"""A loop over a DataLoader with worker processes (persistent), as multi-core data loading does."""
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    data = TensorDataset(torch.randn(256, 4), torch.randn(256, 1))
    loader = DataLoader(data, batch_size=16, shuffle=True, num_workers=2, persistent_workers=True)
    for epoch in range(3):
        n = 0
        for x, y in loader:
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            n += 1
        print(f"epoch {epoch}: {n} batches of {len(loader)}", file=sys.stderr)


if __name__ == "__main__":
    main()
