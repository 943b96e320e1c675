"""Train a GRU sequence classifier on synthetic multichannel signals with SGD + momentum.

Bug: a new CosineAnnealingLR (T_max = batches per epoch) is built at the top of every epoch for
the same optimizer; the new scheduler starts from the learning rate the previous one left
behind, which is already at eta_min, so after the first epoch the LR stays at the floor.
"""
import argparse

import torch
import torch.nn as nn
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.utils.data import DataLoader, TensorDataset


def make_signals(n_samples, n_classes=3, length=32, channels=4):
    # each class has its own smooth multichannel template; samples are noisy, scaled copies
    templates = torch.cumsum(torch.randn(n_classes, length, channels), dim=1) / 3
    labels = torch.randint(0, n_classes, (n_samples,))
    gain = 0.8 + 0.4 * torch.rand(n_samples, 1, 1)
    signals = gain * templates[labels] + 1.5 * torch.randn(n_samples, length, channels)
    return signals, labels


class GRUClassifier(nn.Module):
    def __init__(self, channels=4, hidden=48, n_classes=3):
        super().__init__()
        self.gru = nn.GRU(channels, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):
        _, h = self.gru(x)
        return self.head(h[-1])


def main():
    parser = argparse.ArgumentParser(description="GRU classifier, SGD + cosine")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--min-lr", type=float, default=1e-4)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    signals, labels = make_signals(576)
    train_loader = DataLoader(TensorDataset(signals[:448], labels[:448]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(signals[448:], labels[448:]),
                            batch_size=64, shuffle=False, num_workers=0)

    model = GRUClassifier().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        # anneal the learning rate over each epoch
        scheduler = CosineAnnealingLR(optimizer, T_max=len(train_loader), eta_min=args.min_lr)  # expect: FX204
        start_lr = optimizer.param_groups[0]["lr"]

        model.train()
        train_loss, n_train = 0.0, 0
        for batch, targets in train_loader:
            batch, targets = batch.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(batch), targets)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            scheduler.step()
            train_loss += loss.item() * batch.size(0)
            n_train += batch.size(0)

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad():
            for batch, targets in val_loader:
                batch, targets = batch.to(device), targets.to(device)
                correct += (model(batch).argmax(1) == targets).sum().item()
                n_val += batch.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  lr {start_lr:.4f}->{scheduler.get_last_lr()[0]:.4f}  "
              f"train_loss {train_loss / n_train:.4f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
