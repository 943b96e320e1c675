"""A small Trainer class for a 1-D CNN that classifies synthetic ECG-like beats into 3 rhythms.

Epoch metrics are kept in AverageMeter objects (pytorch/examples imagenet style); the trainer
logs average train loss / accuracy per epoch, validates, and steps a ReduceLROnPlateau scheduler.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class AverageMeter:
    """Computes and stores the average and current value."""

    def __init__(self, name, fmt=":f"):
        self.name, self.fmt = name, fmt
        self.reset()

    def reset(self):
        self.val = 0.0
        self.avg = 0.0
        self.sum = 0.0
        self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self):
        return ("{name} {val" + self.fmt + "} ({avg" + self.fmt + "})").format(**self.__dict__)


def beats(n, length, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, length)
    y = torch.randint(0, 3, (n,), generator=g)
    rate = torch.tensor([4.0, 7.0, 11.0])[y] + 0.5 * torch.randn(n, generator=g)
    x = torch.sin(2 * torch.pi * rate[:, None] * t[None]) ** 9
    x = x + 0.25 * torch.randn(n, length, generator=g)
    return x.unsqueeze(1), y


class BeatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(1, 16, 7, padding=3), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
        )
        self.fc = nn.Linear(32, 3)

    def forward(self, x):
        return self.fc(self.body(x).flatten(1))


class Trainer:
    def __init__(self, model, optimizer, scheduler, train_loader, val_loader):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_loader, self.val_loader = train_loader, val_loader
        self.loss_meter = AverageMeter("Loss", ":.4f")

    def train_epoch(self, epoch):
        self.model.train()
        acc_meter = AverageMeter("Acc", ":.3f")
        for i, (x, y) in enumerate(self.train_loader):
            logits = self.model(x)
            loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.loss_meter.update(loss.item(), x.size(0))
            acc_meter.update((logits.argmax(1) == y).float().mean().item(), x.size(0))
        print(f"epoch {epoch} train: {self.loss_meter}  {acc_meter}")
        return self.loss_meter.avg

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        val_loss = AverageMeter("ValLoss", ":.4f")
        val_acc = AverageMeter("ValAcc", ":.3f")
        for x, y in self.val_loader:
            logits = self.model(x)
            val_loss.update(F.cross_entropy(logits, y).item(), x.size(0))
            val_acc.update((logits.argmax(1) == y).float().mean().item(), x.size(0))
        return val_loss.avg, val_acc.avg

    def fit(self, epochs):
        for epoch in range(epochs):
            train_loss = self.train_epoch(epoch)
            val_loss, val_acc = self.validate()
            self.scheduler.step(val_loss)
            print(f"epoch {epoch}: train loss {train_loss:.4f}  val loss {val_loss:.4f}  val acc {val_acc:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-2)
    args = ap.parse_args()
    torch.manual_seed(5)
    xtr, ytr = beats(288, 96, seed=0)
    xva, yva = beats(96, 96, seed=1)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=32, shuffle=True, drop_last=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=48)
    model = BeatNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    Trainer(model, optimizer, scheduler, train_loader, val_loader).fit(args.epochs)


if __name__ == "__main__":
    main()
