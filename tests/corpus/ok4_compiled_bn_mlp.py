"""Multi-class classifier on synthetic Gaussian-mixture features, compiled with torch.compile.

MLP with BatchNorm and dropout, SGD + momentum with a linear warmup into step
decay (SequentialLR), standard train()/eval() switching around validation.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_mixture(n, dim=24, num_classes=6, seed=0):
    g = torch.Generator().manual_seed(1000)
    means = 0.35 * torch.randn(num_classes, dim, generator=g)
    g.manual_seed(seed)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    x = means[labels] + torch.randn(n, dim, generator=g)
    return x, labels


class ResidualMLP(nn.Module):
    def __init__(self, dim=24, hidden=64, num_classes=6, p_drop=0.2):
        super().__init__()
        self.proj = nn.Linear(dim, hidden)
        self.block = nn.Sequential(
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
        )
        self.out = nn.Sequential(nn.ReLU(), nn.Dropout(p_drop), nn.Linear(hidden, num_classes))

    def forward(self, x):
        h = self.proj(x)
        return self.out(h + self.block(h))


def train_one_epoch(model, loader, optimizer, scheduler):
    model.train()
    running, steps = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running += loss.item()
        steps += 1
    return running / steps


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct, total = 0, 0
    for x, y in loader:
        correct += (model(x).argmax(dim=1) == y).sum().item()
        total += y.numel()
    return correct / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    torch.manual_seed(8)
    train_loader = DataLoader(
        TensorDataset(*make_mixture(1280, seed=1)), batch_size=args.batch_size, shuffle=True, drop_last=True
    )
    val_loader = DataLoader(TensorDataset(*make_mixture(256, seed=2)), batch_size=64)

    model = torch.compile(ResidualMLP(), backend="aot_eager")
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    steps_per_epoch = len(train_loader)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=steps_per_epoch // 2)
    decay = torch.optim.lr_scheduler.StepLR(optimizer, step_size=steps_per_epoch, gamma=0.3)
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, decay], milestones=[steps_per_epoch // 2])

    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = train_one_epoch(model, train_loader, optimizer, scheduler)
        acc = evaluate(model, val_loader)
        print(f"epoch {epoch} loss {loss:.4f} val_acc {acc:.3f} time {time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    main()
