"""Residual MLP for a tabular regression problem (house-price-like features),
with early stopping on validation RMSE and ReduceLROnPlateau."""
import argparse
import logging
import math
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
logger = logging.getLogger(__name__)


def build_parser():
    parser = argparse.ArgumentParser("tabular-resmlp")
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    return parser


def synthetic_tabular(n, n_features, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_features, generator=torch.Generator().manual_seed(5))
    x = torch.randn(n, n_features, generator=g)
    y = x @ w * 0.5 + torch.sin(2 * x[:, 0]) * 2 + x[:, 1] * x[:, 2] + 0.3 * torch.randn(n, generator=g)
    return x, y.unsqueeze(1)


class Standardizer:
    def fit(self, x):
        self.mean, self.std = x.mean(0), x.std(0).clamp_min(1e-6)
        return self

    def __call__(self, x):
        return (x - self.mean) / self.std


class ResidualBlock(nn.Module):
    def __init__(self, width, p):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width * 2)
        self.fc2 = nn.Linear(width * 2, width)
        self.p = p

    def forward(self, x):
        h = F.gelu(self.fc1(self.norm(x)))
        h = F.dropout(h, p=self.p, training=True)
        return x + self.fc2(h)


class ResMLP(nn.Module):
    def __init__(self, n_features, width, depth, p):
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, p) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        x = self.inp(x)
        for block in self.blocks:
            x = block(x)
        return self.out(F.gelu(self.out_norm(x)))


def train_one_epoch(model, loader, optimizer):
    model.train()
    sq_err, n = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad(set_to_none=True)
        pred = model(xb)
        loss = F.mse_loss(pred, yb)
        loss.backward()
        optimizer.step()
        sq_err += loss.item() * xb.size(0)
        n += xb.size(0)
    return math.sqrt(sq_err / n)


def evaluate(model, loader):
    model.eval()
    sq_err, n = 0.0, 0
    with torch.no_grad():
        for xb, yb in loader:
            pred = model(xb)
            sq_err += F.mse_loss(pred, yb, reduction="sum").item()
            n += xb.size(0)
    return math.sqrt(sq_err / n)


def main():
    args = build_parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(message)s", datefmt="%H:%M:%S")
    torch.manual_seed(args.seed)

    x_train, y_train = synthetic_tabular(768, args.n_features, seed=1)
    x_val, y_val = synthetic_tabular(256, args.n_features, seed=2)
    scaler = Standardizer().fit(x_train)
    train_loader = DataLoader(TensorDataset(scaler(x_train), y_train), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(scaler(x_val), y_val), batch_size=256)

    model = ResMLP(args.n_features, args.width, args.depth, args.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)

    best_rmse, bad_epochs = float("inf"), 0
    ckpt_path = os.path.join(tempfile.gettempdir(), "resmlp_best.pt")
    for epoch in range(args.epochs):
        train_rmse = train_one_epoch(model, train_loader, optimizer)
        val_rmse = evaluate(model, val_loader)
        scheduler.step(val_rmse)
        logger.info("epoch %02d  train_rmse=%.4f  val_rmse=%.4f  lr=%.2e",
                    epoch, train_rmse, val_rmse, optimizer.param_groups[0]["lr"])
        if val_rmse < best_rmse:
            best_rmse, bad_epochs = val_rmse, 0
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scaler": (scaler.mean, scaler.std), "epoch": epoch}, ckpt_path)
        else:
            bad_epochs += 1
            if bad_epochs >= args.patience:
                logger.info("early stopping at epoch %d", epoch)
                break
    logger.info("best val rmse %.4f", best_rmse)


if __name__ == "__main__":
    main()
