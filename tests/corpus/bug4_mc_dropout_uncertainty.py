"""Heteroscedastic 1-D regression with Monte-Carlo dropout uncertainty estimates.

Validation reports RMSE, Gaussian NLL of the MC predictive distribution and the
coverage of the 95% interval.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_regression(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 6.0 - 3.0
    noise = 0.1 + 0.2 * x.abs()
    y = torch.sin(2.0 * x) + 0.3 * x + noise * torch.randn(n, 1, generator=g)
    feats = torch.cat([x, x.pow(2) / 3.0, torch.cos(x)], dim=1)
    return feats, y


class MCDropoutRegressor(nn.Module):
    def __init__(self, in_features=3, hidden=64, p_drop=0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x)


@torch.no_grad()
def mc_dropout_predict(model, x, n_samples=20):
    model.train()
    samples = torch.stack([model(x) for _ in range(n_samples)])
    return samples.mean(0), samples.std(0)


def train_one_epoch(model, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


def evaluate(model, loader, n_samples=20):
    model.eval()
    sq_err, nll, covered, n = 0.0, 0.0, 0, 0
    for x, y in loader:
        mean, std = mc_dropout_predict(model, x, n_samples)
        std = std.clamp(min=1e-3)
        sq_err += (mean - y).pow(2).sum().item()
        nll += (0.5 * math.log(2 * math.pi) + std.log() + 0.5 * ((y - mean) / std).pow(2)).sum().item()
        covered += ((y - mean).abs() <= 1.96 * std).sum().item()
        n += y.numel()
    return math.sqrt(sq_err / n), nll / n, covered / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mc-samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    train_loader = DataLoader(
        TensorDataset(*make_regression(1280, seed=args.seed)), batch_size=args.batch_size, shuffle=True
    )
    val_loader = DataLoader(TensorDataset(*make_regression(320, seed=args.seed + 100)), batch_size=80)

    model = MCDropoutRegressor()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.7)

    for epoch in range(1, args.epochs + 1):
        train_mse = train_one_epoch(model, train_loader, optimizer)
        rmse, nll, coverage = evaluate(model, val_loader, args.mc_samples)
        scheduler.step()
        print(
            f"epoch {epoch}: train_mse={train_mse:.4f} val_rmse={rmse:.4f} "
            f"val_nll={nll:.3f} cover95={coverage:.2%}"
        )


if __name__ == "__main__":
    main()
