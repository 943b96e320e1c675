"""Distance-aware (SNGP-style) MLP classifier on 2-D 'two moons' data.

Hidden layers are spectrally normalised with the parametrization API
(torch.nn.utils.parametrizations.spectral_norm), the output layer uses
weight normalisation. A baseline validation pass runs before training."""
import argparse
import logging
import math
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm, weight_norm
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
log = logging.getLogger("sn_mlp")


def two_moons(n, noise, seed):
    g = torch.Generator().manual_seed(seed)
    n1 = n // 2
    t1 = torch.rand(n1, generator=g) * math.pi
    t2 = torch.rand(n - n1, generator=g) * math.pi
    upper = torch.stack([torch.cos(t1), torch.sin(t1)], 1)
    lower = torch.stack([1 - torch.cos(t2), 0.5 - torch.sin(t2)], 1)
    x = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n1), torch.ones(n - n1)]).long()
    perm = torch.randperm(n, generator=g)
    return x[perm], y[perm]


class ResidualSNLayer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = spectral_norm(nn.Linear(dim, dim))

    def forward(self, x):
        return x + F.relu(self.fc(x))


class SNMLP(nn.Module):
    def __init__(self, hidden=64, depth=3, num_classes=2):
        super().__init__()
        self.inp = spectral_norm(nn.Linear(2, hidden))
        self.body = nn.Sequential(*[ResidualSNLayer(hidden) for _ in range(depth)])
        self.out = weight_norm(nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.out(self.body(self.inp(x)))


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    nll, correct, n = 0.0, 0, 0
    for x, y in loader:
        logits = model(x)
        nll += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += y.size(0)
    return nll / n, correct / n


def train_epoch(model, loader, optimizer):
    model.train()
    tot, n = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        tot += loss.item() * y.size(0)
        n += y.size(0)
    return tot / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="[sn_mlp] %(message)s")
    torch.manual_seed(args.seed)

    x_tr, y_tr = two_moons(512, 0.1, seed=1)
    x_va, y_va = two_moons(200, 0.1, seed=2)
    train_loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(x_va, y_va), batch_size=100)

    model = SNMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    nll, acc = evaluate(model, val_loader)
    log.info("before training: val nll %.4f acc %.3f", nll, acc)
    ckpt = os.path.join(tempfile.gettempdir(), "sn_mlp_best.pt")
    best = 0.0
    for epoch in range(args.epochs):
        tr = train_epoch(model, train_loader, optimizer)
        nll, acc = evaluate(model, val_loader)
        scheduler.step()
        log.info("epoch %d: train %.4f | val nll %.4f acc %.3f", epoch, tr, nll, acc)
        if acc > best:
            best = acc
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, ckpt)
    log.info("best acc %.3f", best)


if __name__ == "__main__":
    main()
