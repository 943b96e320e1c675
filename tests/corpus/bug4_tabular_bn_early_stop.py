"""Churn-style binary classifier on synthetic tabular features.

MLP with BatchNorm + dropout, AdamW with a per-step cosine schedule, early
stopping on validation loss and best-checkpoint restore.
"""
import argparse
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_tabular(n, n_features=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=g)
    w = torch.linspace(-1.0, 1.0, n_features)
    score = x @ w + 0.8 * x[:, 0] * x[:, 1] - 0.5 * x[:, 2].pow(2) + 0.5
    y = (score + 0.4 * torch.randn(n, generator=g) > 0).float()
    return x, y


class TabularMLP(nn.Module):
    def __init__(self, n_features, hidden=64, p_drop=0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)


def train_one_epoch(model, loader, optimizer, scheduler):
    total, n = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item() * x.size(0)
        n += x.size(0)
    return total / n


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total, correct, n = 0.0, 0, 0
    for x, y in loader:
        logits = model(x)
        total += F.binary_cross_entropy_with_logits(logits, y, reduction="sum").item()
        correct += ((logits > 0).float() == y).sum().item()
        n += x.size(0)
    return total / n, correct / n


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    x_train, y_train = make_tabular(1024, seed=args.seed)
    x_val, y_val = make_tabular(256, seed=args.seed + 1)
    mean, std = x_train.mean(0), x_train.std(0)
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std

    train_loader = DataLoader(
        TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True, drop_last=True
    )
    val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=64)

    model = TabularMLP(x_train.size(1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * len(train_loader)
    )

    best_loss, best_state, bad_epochs = math.inf, None, 0
    model.train()
    for epoch in range(1, args.epochs + 1):
        train_loss = train_one_epoch(model, train_loader, optimizer, scheduler)
        val_loss, val_acc = evaluate(model, val_loader)
        print(
            f"epoch {epoch:2d} | train {train_loss:.4f} | val {val_loss:.4f} "
            f"| acc {val_acc:.3f} | lr {scheduler.get_last_lr()[0]:.2e}"
        )
        if val_loss < best_loss - 1e-4:
            best_loss, bad_epochs = val_loss, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
            if bad_epochs >= args.patience:
                print(f"early stopping at epoch {epoch}")
                break

    model.load_state_dict(best_state)
    val_loss, val_acc = evaluate(model, val_loader)
    print(f"best checkpoint: val loss {val_loss:.4f} acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
