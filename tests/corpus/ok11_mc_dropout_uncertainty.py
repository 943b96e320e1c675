"""Heteroscedastic 1-D regression with an MLP, plus Monte-Carlo dropout
(Gal & Ghahramani) to estimate predictive uncertainty after training.

Validation during training is deterministic (model.eval()). For the MC
estimate the model stays in eval mode (BatchNorm uses running statistics) and
only the Dropout modules are switched back to train mode on purpose."""
import argparse
import logging
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
logger = logging.getLogger("mc_dropout")


class DropoutMLP(nn.Module):
    def __init__(self, hidden=64, p=0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(1, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(p),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(p),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x)


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 6 - 3
    noise_scale = 0.1 + 0.3 * (x > 0).float() * x.abs()
    y = torch.sin(x) * 2 + noise_scale * torch.randn(n, 1, generator=g)
    return x, y


def enable_mc_dropout(model):
    """Turn on only the dropout layers; everything else stays in eval mode."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()


@torch.no_grad()
def mc_predict(model, x, n_samples=30):
    model.eval()
    enable_mc_dropout(model)
    preds = torch.stack([model(x) for _ in range(n_samples)])
    model.eval()
    return preds.mean(0), preds.std(0)


@torch.no_grad()
def validate(model, loader):
    model.eval()
    se, n = 0.0, 0
    for xb, yb in loader:
        se += F.mse_loss(model(xb), yb, reduction="sum").item()
        n += xb.size(0)
    return se / n


def train(model, loader, optimizer, scheduler):
    model.train()
    total, n = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = F.mse_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * xb.size(0)
        n += xb.size(0)
    scheduler.step()
    return total / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--mc-samples", type=int, default=30)
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(args.seed)

    x_tr, y_tr = make_data(480, seed=1)
    x_va, y_va = make_data(200, seed=2)
    train_loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(x_va, y_va), batch_size=100, shuffle=False)

    model = DropoutMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for epoch in range(args.epochs):
        tr = train(model, train_loader, optimizer, scheduler)
        va = validate(model, val_loader)
        logger.info("epoch %d  train_mse %.4f  val_mse %.4f", epoch, tr, va)

    # epistemic uncertainty on a grid (spread of the MC-dropout predictions)
    grid = torch.linspace(-3, 3, 13).unsqueeze(1)
    mean, std = mc_predict(model, grid, args.mc_samples)
    for gx, m, s in zip(grid.squeeze(1).tolist(), mean.squeeze(1).tolist(), std.squeeze(1).tolist()):
        logger.info("x=%+.2f  mean=%+.3f  std=%.3f", gx, m, s)
    logger.info("mean MC std: x<0 %.3f  x>0 %.3f", std[grid < 0].mean().item(), std[grid > 0].mean().item())

    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
               os.path.join(tempfile.gettempdir(), "mc_dropout_mlp.pt"))


if __name__ == "__main__":
    main()
