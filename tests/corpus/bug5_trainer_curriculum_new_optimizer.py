"""Curriculum learning for a small GRU that classifies noisy sine sequences by frequency band.

A minimal Trainer: samples are ranked by difficulty (noise level) and every epoch fit() builds a
new DataLoader over a growing easy-to-hard prefix of the training set; each curriculum stage also
gets its own, lower learning rate.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset, TensorDataset


def make_sequences(n, length=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    freq = (labels.float() + 1) * 0.35 + 0.1 * torch.rand(n, generator=g)
    phase = 2 * math.pi * torch.rand(n, generator=g)
    t = torch.arange(length).float()
    noise_level = 0.1 + 0.9 * torch.rand(n, generator=g)
    x = torch.sin(freq[:, None] * t[None] + phase[:, None])
    x = x + noise_level[:, None] * torch.randn(n, length, generator=g)
    return x.unsqueeze(-1), labels, noise_level


class GRUClassifier(nn.Module):
    def __init__(self, hidden=32, n_classes=3):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x):
        _, h = self.gru(x)
        return self.out(self.drop(h[-1]))


class CurriculumTrainer:
    def __init__(self, model, train_set, difficulty, val_set, cfg):
        self.model, self.train_set, self.val_set, self.cfg = model, train_set, val_set, cfg
        self.order = torch.argsort(difficulty)  # easiest first
        self.val_loader = DataLoader(val_set, batch_size=64)
        self.optimizer = None
        self.history = []

    def stage_loader(self, epoch):
        frac = min(1.0, self.cfg.start_frac + epoch * self.cfg.frac_step)
        keep = self.order[: int(frac * len(self.order))]
        return DataLoader(Subset(self.train_set, keep.tolist()), batch_size=self.cfg.batch_size, shuffle=True)

    def train_epoch(self, loader):
        self.model.train()
        total, n = 0.0, 0
        for x, y in loader:
            loss = F.cross_entropy(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            total += loss.item() * y.size(0)
            n += y.size(0)
        return total / n

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        correct, n = 0, 0
        for x, y in self.val_loader:
            correct += (self.model(x).argmax(1) == y).sum().item()
            n += y.size(0)
        return correct / n

    def fit(self, epochs):
        for epoch in range(epochs):
            loader = self.stage_loader(epoch)
            stage_lr = self.cfg.lr * (self.cfg.stage_decay ** epoch)
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=stage_lr)
            train_loss = self.train_epoch(loader)
            val_acc = self.validate()
            self.history.append((train_loss, val_acc))
            print(f"stage {epoch}: {len(loader.dataset)} samples, lr {stage_lr:.1e}, "
                  f"train loss {train_loss:.4f}, val acc {val_acc:.3f}")
        return self.history


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--stage_decay", type=float, default=0.7)
    parser.add_argument("--start_frac", type=float, default=0.6)
    parser.add_argument("--frac_step", type=float, default=0.2)
    cfg = parser.parse_args()
    torch.manual_seed(0)

    x, y, noise = make_sequences(520)
    train_set = TensorDataset(x[:400], y[:400])
    val_set = TensorDataset(x[400:], y[400:])
    trainer = CurriculumTrainer(GRUClassifier(), train_set, noise[:400], val_set, cfg)
    trainer.fit(cfg.epochs)


if __name__ == "__main__":
    main()
