"""1D-CNN keyword spotter on synthetic "audio" (chirps vs. tones vs. noise) with gradient accumulation.

Micro-batches of 24 clips; the optimizer steps every --accum_steps micro-batches so the effective
batch is 96. Validation runs at the end of every epoch.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_clips(n, length=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    t = torch.linspace(0, 1, length)
    f0 = 4 + 4 * torch.rand(n, 1, generator=g)
    tone = torch.sin(2 * math.pi * f0 * t)
    chirp = torch.sin(2 * math.pi * (f0 * t + 10 * t ** 2))
    noise = torch.randn(n, length, generator=g)
    clips = torch.where(labels[:, None] == 0, tone, torch.where(labels[:, None] == 1, chirp, 0.6 * noise))
    clips = clips + 0.4 * torch.randn(n, length, generator=g)
    return clips.unsqueeze(1), labels


class KWSNet(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(1, 16, 9, padding=4), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(), nn.AdaptiveMaxPool1d(1),
        )
        self.fc = nn.Linear(32, n_classes)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--micro_batch", type=int, default=24)
    parser.add_argument("--accum_steps", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()
    torch.manual_seed(5)

    clips, labels = make_clips(400)
    train_loader = DataLoader(TensorDataset(clips[:216], labels[:216]), batch_size=args.micro_batch, shuffle=True)
    val_loader = DataLoader(TensorDataset(clips[216:], labels[216:]), batch_size=64)

    model = KWSNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    optimizer.zero_grad()

    for epoch in range(args.epochs):
        model.train()
        epoch_loss, n_seen = 0.0, 0
        for i, (x, y) in enumerate(train_loader):
            loss = F.cross_entropy(model(x), y)
            (loss / args.accum_steps).backward()
            epoch_loss += loss.item() * y.size(0)
            n_seen += y.size(0)
            if (i + 1) % args.accum_steps == 0:
                optimizer.step()
                optimizer.zero_grad()

        model.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += (model(x).argmax(1) == y).sum().item()
                total += y.size(0)
        print(f"epoch {epoch}: train loss {epoch_loss / n_seen:.4f} | val acc {correct / total:.3f}")


if __name__ == "__main__":
    main()
