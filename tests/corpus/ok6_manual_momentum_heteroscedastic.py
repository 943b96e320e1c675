"""Heteroscedastic regression (mean + log-variance heads) fitted with a hand-written momentum SGD.

The model predicts a Gaussian mean and a log-variance; a global learned ``log_scale`` parameter
temperature-scales the variance. Instead of torch.optim, the loop keeps its own momentum buffers
and applies ``p -= lr * buf`` under torch.no_grad() to every parameter, then clears the grads.
"""
import argparse
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = 4 * torch.rand(n, 1, generator=g) - 2
    noise_sd = 0.1 + 0.4 * x.abs()
    y = torch.sin(2 * x) + x ** 2 / 4 + noise_sd * torch.randn(n, 1, generator=g)
    return x, y


class GaussianMLP(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.mean = nn.Linear(hidden, 1)
        self.logvar = nn.Linear(hidden, 1)
        self.log_scale = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        h = self.body(x)
        return self.mean(h), self.logvar(h) + self.log_scale


def gaussian_nll(mu, logvar, y):
    return 0.5 * (logvar + (y - mu) ** 2 / logvar.exp() + math.log(2 * math.pi)).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--momentum", type=float, default=0.9)
    args = ap.parse_args()
    torch.manual_seed(4)

    xtr, ytr = make_data(512, seed=0)
    xva, yva = make_data(128, seed=1)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=64)

    model = GaussianMLP()
    params = list(model.parameters())
    bufs = [torch.zeros_like(p) for p in params]

    for epoch in range(args.epochs):
        model.train()
        nll_sum, batches = 0.0, 0
        for xb, yb in train_loader:
            mu, logvar = model(xb)
            loss = gaussian_nll(mu, logvar, yb)
            loss.backward()
            with torch.no_grad():
                for p, buf in zip(params, bufs):
                    buf.mul_(args.momentum).add_(p.grad)
                    p -= args.lr * buf
                    p.grad = None
            nll_sum += loss.item()
            batches += 1

        model.eval()
        with torch.no_grad():
            val_nll, val_mse, n = 0.0, 0.0, 0
            for xb, yb in val_loader:
                mu, logvar = model(xb)
                val_nll += gaussian_nll(mu, logvar, yb).item() * xb.size(0)
                val_mse += ((mu - yb) ** 2).sum().item()
                n += xb.size(0)
        print(f"epoch {epoch}: train nll {nll_sum / batches:.4f}  val nll {val_nll / n:.4f}  "
              f"val mse {val_mse / n:.4f}  log_scale {model.log_scale.item():+.3f}")


if __name__ == "__main__":
    main()
