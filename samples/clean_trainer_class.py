"""Train a tabular MLP classifier through a small Trainer class.

Trainer.fit() alternates train_epoch() and evaluate(); ReduceLROnPlateau is stepped once per
epoch with the validation loss, and the best validation loss is tracked.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class Trainer:
    def __init__(self, model, optimizer, scheduler, criterion, device):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.criterion = criterion
        self.device = device
        self.best_val_loss = float("inf")
        self.history = []

    def train_epoch(self, loader):
        self.model.train()
        total_loss, total = 0.0, 0
        for inputs, targets in loader:
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criterion(self.model(inputs), targets)
            loss.backward()
            self.optimizer.step()
            total_loss += loss.item() * inputs.size(0)
            total += inputs.size(0)
        return total_loss / total

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        total_loss, correct, total = 0.0, 0, 0
        for inputs, targets in loader:
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            logits = self.model(inputs)
            total_loss += self.criterion(logits, targets).item() * inputs.size(0)
            correct += (logits.argmax(dim=1) == targets).sum().item()
            total += inputs.size(0)
        return total_loss / total, correct / total

    def fit(self, train_loader, val_loader, epochs):
        for epoch in range(epochs):
            train_loss = self.train_epoch(train_loader)
            val_loss, val_acc = self.evaluate(val_loader)
            self.scheduler.step(val_loss)
            improved = val_loss < self.best_val_loss
            self.best_val_loss = min(self.best_val_loss, val_loss)
            self.history.append((train_loss, val_loss, val_acc))
            print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}  "
                  f"val_acc {val_acc:.3f}  lr {self.optimizer.param_groups[0]['lr']:.2e}"
                  f"{'  *' if improved else ''}")
        return self.history


def make_dataset(n_samples, n_features=30, n_classes=3):
    x = torch.randn(n_samples, n_features)
    score = x[:, :3].sum(dim=1) + 0.5 * x[:, 3] * x[:, 4]
    y = torch.bucketize(score, torch.tensor([-1.0, 1.0]))
    return x, y.clamp(max=n_classes - 1)


def main():
    parser = argparse.ArgumentParser(description="Trainer class with ReduceLROnPlateau")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_dataset(544)
    train_loader = DataLoader(TensorDataset(x[:448], y[:448]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[448:], y[448:]), batch_size=48,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(30, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 3),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0)
    trainer = Trainer(model, optimizer, scheduler, nn.CrossEntropyLoss(), device)
    trainer.fit(train_loader, val_loader, args.epochs)
    print(f"best val_loss {trainer.best_val_loss:.4f}")


if __name__ == "__main__":
    main()
