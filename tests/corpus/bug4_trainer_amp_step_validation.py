"""Waveform frequency classifier (Conv1d + BatchNorm) with a small Trainer.

Mixed precision on CPU (bfloat16 autocast + GradScaler), gradient clipping,
step-based validation and best-accuracy tracking.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


class ToneDataset(Dataset):
    def __init__(self, n, num_classes=5, length=64, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, num_classes, (n,), generator=g)
        t = torch.arange(length).float() / length
        freq = 2.0 + 3.0 * self.labels.float()
        phase = 2 * math.pi * torch.rand(n, 1, generator=g)
        clean = torch.sin(2 * math.pi * freq[:, None] * t[None, :] + phase)
        self.signals = clean + 0.6 * torch.randn(n, length, generator=g)

    def __len__(self):
        return self.labels.numel()

    def __getitem__(self, idx):
        return self.signals[idx].unsqueeze(0), self.labels[idx]


class ToneNet(nn.Module):
    def __init__(self, num_classes=5, width=16, p_drop=0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, width, 7, padding=3),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(2),
            nn.Conv1d(width, 2 * width, 5, padding=2),
            nn.BatchNorm1d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool1d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(p_drop), nn.Linear(2 * width, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader, eval_every=6, max_grad_norm=1.0):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.eval_every = eval_every
        self.max_grad_norm = max_grad_norm
        self.scaler = torch.amp.GradScaler("cpu")
        self.global_step = 0
        self.best_acc = 0.0
        self.history = []

    def training_step(self, x, y):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = self.model(x)
            loss = F.cross_entropy(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        correct, seen, loss_sum = 0, 0, 0.0
        for x, y in self.val_loader:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = self.model(x).float()
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += y.numel()
        return {"val_loss": loss_sum / seen, "val_acc": correct / seen}

    def fit(self, epochs):
        for epoch in range(epochs):
            self.model.train()
            t0 = time.perf_counter()
            running = 0.0
            for x, y in self.train_loader:
                running += self.training_step(x, y).item()
                self.global_step += 1
                if self.global_step % self.eval_every == 0:
                    metrics = self.validate()
                    metrics["step"] = self.global_step
                    self.history.append(metrics)
                    if metrics["val_acc"] > self.best_acc:
                        self.best_acc = metrics["val_acc"]
            avg = running / len(self.train_loader)
            last = self.history[-1] if self.history else {}
            print(
                f"epoch {epoch + 1} step {self.global_step} train_loss {avg:.4f} "
                f"val_acc {last.get('val_acc', float('nan')):.3f} ({time.perf_counter() - t0:.1f}s)"
            )
        return self.best_acc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=6)
    args = parser.parse_args()

    torch.manual_seed(0)
    train_ds = ToneDataset(768, seed=1)
    val_ds = ToneDataset(192, seed=2)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_ds, batch_size=64)

    model = ToneNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    trainer = Trainer(model, optimizer, train_loader, val_loader, eval_every=args.eval_every)
    best = trainer.fit(args.epochs)
    print(f"best val acc {best:.3f}")


if __name__ == "__main__":
    main()
