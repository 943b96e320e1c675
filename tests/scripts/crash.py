"""Trains a few batches, then fails in the second epoch the way a data bug does."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def load_batch(x, epoch, i):
    if epoch == 1 and i == 3:
        raise ValueError("corrupt record in shard 7")
    return x


def main():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(torch.randn(64, 4), torch.randn(64, 1)), batch_size=8, shuffle=True)
    for epoch in range(3):
        for i, (x, y) in enumerate(loader):
            x = load_batch(x, epoch, i)
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()


if __name__ == "__main__":
    main()
