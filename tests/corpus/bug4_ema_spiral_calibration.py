"""Three-arm spiral classification with an exponential moving average of the weights.

The raw model is validated every epoch; the EMA weights are scored separately
(accuracy + expected calibration error), as is common for EMA/teacher models.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, TensorDataset


def make_spirals(n, arms=3, noise=0.15, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, arms, (n,), generator=g)
    r = torch.rand(n, generator=g)
    theta = 3.0 * math.pi * r + 2.0 * math.pi * labels.float() / arms
    xy = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1)
    xy = xy + noise * r.unsqueeze(1) * torch.randn(n, 2, generator=g)
    feats = torch.cat([xy, xy.pow(2), (xy[:, :1] * xy[:, 1:])], dim=1)
    return feats, labels


class SpiralNet(nn.Module):
    def __init__(self, in_features=5, hidden=96, num_classes=3, p_drop=0.1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.GELU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.GELU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.layers(x)


def train_one_epoch(model, ema_model, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        ema_model.update_parameters(model)
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


def expected_calibration_error(confidences, correct, n_bins=10):
    bins = torch.linspace(0, 1, n_bins + 1)
    ece = torch.zeros(())
    for lo, hi in zip(bins[:-1], bins[1:]):
        in_bin = (confidences > lo) & (confidences <= hi)
        if in_bin.any():
            gap = confidences[in_bin].mean() - correct[in_bin].float().mean()
            ece += in_bin.float().mean() * gap.abs()
    return ece.item()


def score_ema(ema_model, loader):
    ema_model.eval()
    confs, hits = [], []
    for x, y in loader:
        probs = F.softmax(ema_model(x), dim=1)
        conf, pred = probs.max(1)
        confs.append(conf)
        hits.append(pred == y)
    confs, hits = torch.cat(confs), torch.cat(hits)
    return hits.float().mean().item(), expected_calibration_error(confs, hits)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--ema-decay", type=float, default=0.95)
    args = parser.parse_args()

    torch.manual_seed(11)
    train_loader = DataLoader(TensorDataset(*make_spirals(1536, seed=1)), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(*make_spirals(384, seed=2)), batch_size=128)

    model = SpiralNet()
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema_decay), use_buffers=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    for epoch in range(1, args.epochs + 1):
        loss = train_one_epoch(model, ema_model, train_loader, optimizer)
        scheduler.step()
        acc = evaluate(model, val_loader)
        ema_acc, ema_ece = score_ema(ema_model, val_loader)
        print(f"epoch {epoch} loss {loss:.4f} acc {acc:.3f} | ema acc {ema_acc:.3f} ece {ema_ece:.4f}")


if __name__ == "__main__":
    main()
