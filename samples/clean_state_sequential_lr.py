"""Train a 1-D CNN on synthetic multichannel time series with AdamW and a warm-up + cosine LR.

The schedule is one SequentialLR built once before training: LinearLR warm-up for half an
epoch, then CosineAnnealingLR down to zero at the last batch of the run; it is stepped after
every optimizer.step(), so the learning rate never jumps back at an epoch boundary.
"""
import argparse

import torch
import torch.nn as nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from torch.utils.data import DataLoader, TensorDataset


def make_series(n_samples, n_classes=4, channels=3, length=64):
    t = torch.linspace(0, 1, length)
    labels = torch.randint(0, n_classes, (n_samples,))
    # class = which channel carries a burst, and whether it comes early or late
    centers = torch.where(labels % 2 == 0, 0.3, 0.7)
    burst = torch.exp(-((t - centers.unsqueeze(1)) ** 2) / 0.005)
    series = 0.8 * torch.randn(n_samples, channels, length)
    series[torch.arange(n_samples), labels // 2] += 2.0 * burst
    return series, labels


class TemporalCNN(nn.Module):
    def __init__(self, channels=3, n_classes=4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, 32, 5, padding=2), nn.GELU(),
            nn.Conv1d(32, 32, 5, padding=2), nn.GELU(),
            nn.AdaptiveMaxPool1d(8), nn.Flatten(),
            nn.Linear(32 * 8, n_classes),
        )

    def forward(self, x):
        return self.net(x)


def main():
    parser = argparse.ArgumentParser(description="1-D CNN, AdamW + warm-up/cosine")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    series, labels = make_series(608)
    train_loader = DataLoader(TensorDataset(series[:512], labels[:512]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(series[512:], labels[512:]),
                            batch_size=48, shuffle=False, num_workers=0)

    model = TemporalCNN().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    total_steps = args.epochs * len(train_loader)
    warmup_steps = len(train_loader) // 2
    warmup = LinearLR(optimizer, start_factor=0.05, total_iters=warmup_steps)
    cosine = CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps)
    scheduler = SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        start_lr = scheduler.get_last_lr()[0]
        model.train()
        train_loss, n_train = 0.0, 0
        for batch, targets in train_loader:
            batch, targets = batch.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(batch), targets)
            loss.backward()
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

        print(f"epoch {epoch + 1}/{args.epochs}  lr {start_lr:.5f}->{scheduler.get_last_lr()[0]:.5f}  "
              f"train_loss {train_loss / n_train:.4f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
