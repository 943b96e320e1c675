"""Hard-example re-sampling for an imbalanced synthetic fraud-detection table.

A small Trainer class: fit() builds a new DataLoader every epoch whose WeightedRandomSampler
draws samples in proportion to their last seen loss (plus a floor), so hard / rare examples are
revisited more often. The optimizer, scheduler and metric meters are created once and the meters
are reset at the start of every epoch.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler


def make_transactions(n, d=12, fraud_rate=0.12, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < fraud_rate).long()
    x = torch.randn(n, d, generator=g)
    x[y == 1, :3] += 1.8
    x[y == 1, 3] -= 1.2
    return x, y


class AverageMeter:
    def __init__(self):
        self.reset()

    def reset(self):
        self.sum, self.count = 0.0, 0

    def update(self, value, n=1):
        self.sum += value * n
        self.count += n

    @property
    def avg(self):
        return self.sum / max(1, self.count)


class FraudNet(nn.Module):
    def __init__(self, d_in):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Dropout(0.2),
                                 nn.Linear(48, 2))

    def forward(self, x):
        return self.net(x)


class Trainer:
    def __init__(self, model, train_set, val_set, cfg):
        self.model, self.train_set, self.cfg = model, train_set, cfg
        self.val_loader = DataLoader(val_set, batch_size=128)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-3)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=2, gamma=0.5)
        self.sample_loss = torch.ones(len(train_set))
        self.loss_meter, self.acc_meter = AverageMeter(), AverageMeter()

    def make_loader(self):
        weights = self.sample_loss.clamp(min=0.05)
        sampler = WeightedRandomSampler(weights, num_samples=self.cfg.samples_per_epoch, replacement=True)
        return DataLoader(self.train_set, batch_size=self.cfg.batch_size, sampler=sampler)

    def train_epoch(self, loader):
        self.model.train()
        self.loss_meter.reset()
        self.acc_meter.reset()
        for x, y, idx in loader:
            logits = self.model(x)
            per_sample = F.cross_entropy(logits, y, reduction="none")
            loss = per_sample.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.sample_loss[idx] = per_sample.detach()
            self.loss_meter.update(loss.item(), y.size(0))
            self.acc_meter.update((logits.argmax(1) == y).float().mean().item(), y.size(0))

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        tp = fp = fn = 0
        for x, y in self.val_loader:
            pred = self.model(x).argmax(1)
            tp += ((pred == 1) & (y == 1)).sum().item()
            fp += ((pred == 1) & (y == 0)).sum().item()
            fn += ((pred == 0) & (y == 1)).sum().item()
        return tp / max(1, tp + fp), tp / max(1, tp + fn)

    def fit(self, epochs):
        for epoch in range(epochs):
            loader = self.make_loader()
            self.train_epoch(loader)
            self.scheduler.step()
            precision, recall = self.evaluate()
            print(f"epoch {epoch}: loss {self.loss_meter.avg:.4f} acc {self.acc_meter.avg:.3f} "
                  f"| val precision {precision:.3f} recall {recall:.3f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--samples_per_epoch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-3)
    cfg = parser.parse_args()
    torch.manual_seed(11)

    x, y = make_transactions(900)
    train_set = TensorDataset(x[:600], y[:600], torch.arange(600))
    val_set = TensorDataset(x[600:], y[600:])
    Trainer(FraudNet(x.size(1)), train_set, val_set, cfg).fit(cfg.epochs)


if __name__ == "__main__":
    main()
