"""Train a small CNN on synthetic 3x12x12 images with SGD and cosine annealing with warm restarts.

CosineAnnealingWarmRestarts has T_0 = batches per epoch and is stepped after every optimizer
step, so the learning rate anneals over each epoch and jumps back to its initial value at each
epoch boundary by design (SGDR); one scheduler object drives the whole run.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_images(n_samples, n_classes=5, size=12):
    templates = torch.randn(n_classes, 3, size, size)
    labels = torch.randint(0, n_classes, (n_samples,))
    images = templates[labels] + 1.5 * torch.randn(n_samples, 3, size, size)
    return images, labels


class ConvNet(nn.Module):
    def __init__(self, n_classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(32 * 3 * 3, n_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def main():
    parser = argparse.ArgumentParser(description="CNN, SGD + SGDR")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--min-lr", type=float, default=1e-4)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    images, labels = make_images(480)
    train_loader = DataLoader(TensorDataset(images[:384], labels[:384]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(images[384:], labels[384:]),
                            batch_size=48, shuffle=False, num_workers=0)

    model = ConvNet().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    # one cosine cycle per epoch: restart to args.lr at every epoch boundary
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=len(train_loader), T_mult=1, eta_min=args.min_lr)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        start_lr = scheduler.get_last_lr()[0]
        model.train()
        train_loss, n_train = 0.0, 0
        for batch, targets in train_loader:
            batch, targets = batch.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(batch), targets)
            loss.backward()
            optimizer.step()
            last_lr = scheduler.get_last_lr()[0]
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

        print(f"epoch {epoch + 1}/{args.epochs}  lr {start_lr:.4f}->{last_lr:.4f}  "
              f"train_loss {train_loss / n_train:.4f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
