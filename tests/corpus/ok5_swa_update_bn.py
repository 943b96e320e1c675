"""Stochastic Weight Averaging for a BatchNorm MLP on a synthetic two-moons-with-noise problem.

Plain SGD for --swa_start epochs, then SWALR and a running AveragedModel. Because the averaged
weights never saw their own activations, their BatchNorm statistics are recomputed with
torch.optim.swa_utils.update_bn before the averaged model is validated.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn
from torch.utils.data import DataLoader, TensorDataset


def two_moons(n, noise=0.25, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    theta = math.pi * torch.rand(n, generator=g)
    x0 = torch.stack([torch.cos(theta), torch.sin(theta)], 1)
    x1 = torch.stack([1 - torch.cos(theta), 0.5 - torch.sin(theta)], 1)
    x = torch.where(y[:, None].bool(), x1, x0) + noise * torch.randn(n, 2, generator=g)
    extra = torch.randn(n, 6, generator=g)  # distractor features
    return torch.cat([x, extra], 1), y


def make_model():
    return nn.Sequential(
        nn.Linear(8, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 2),
    )


def train_one_epoch(model, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct, n = 0, 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
        n += y.numel()
    return correct / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--swa_start", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--swa_lr", type=float, default=0.02)
    args = parser.parse_args()
    torch.manual_seed(2)

    x, y = two_moons(600)
    train_loader = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=40, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[320:], y[320:]), batch_size=140)

    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    swa_model = AveragedModel(model)
    swa_scheduler = SWALR(optimizer, swa_lr=args.swa_lr, anneal_epochs=1)

    for epoch in range(args.epochs):
        train_loss = train_one_epoch(model, train_loader, optimizer)
        if epoch >= args.swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
            update_bn(train_loader, swa_model)
            acc = evaluate(swa_model, val_loader)
            tag = "swa"
        else:
            acc = evaluate(model, val_loader)
            tag = "sgd"
        print(f"epoch {epoch}: train loss {train_loss:.4f} | {tag} val acc {acc:.3f}")

    print(f"final: sgd {evaluate(model, val_loader):.3f} swa {evaluate(swa_model, val_loader):.3f}")


if __name__ == "__main__":
    main()
