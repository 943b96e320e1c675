"""Train a small CNN on synthetic 1x16x16 images with mixed precision (autocast + GradScaler).

Bug: a new GradScaler is built at the start of every epoch while the optimizer is kept, so the
loss scale and its growth tracker restart from their initial values each epoch; with float16
the scale has to be re-found every epoch, skipping optimizer steps on overflow again.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_images(n_samples, n_classes=4, size=16):
    # class = orientation of a bar drawn at a random offset
    labels = torch.randint(0, n_classes, (n_samples,))
    images = 0.5 * torch.randn(n_samples, 1, size, size)
    offsets = torch.randint(3, size - 3, (n_samples,))
    for i, (c, o) in enumerate(zip(labels.tolist(), offsets.tolist())):
        if c == 0:
            images[i, 0, o, :] += 2.0
        elif c == 1:
            images[i, 0, :, o] += 2.0
        elif c == 2:
            images[i, 0].diagonal(o - size // 2).add_(2.0)
        else:
            images[i, 0].flip(1).diagonal(o - size // 2).add_(2.0)
    return images, labels


class SmallCNN(nn.Module):
    def __init__(self, n_classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(32, n_classes)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def main():
    parser = argparse.ArgumentParser(description="CNN with AMP")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16

    images, labels = make_images(480)
    train_loader = DataLoader(TensorDataset(images[:384], labels[:384]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(images[384:], labels[384:]),
                            batch_size=48, shuffle=False, num_workers=0)

    model = SmallCNN().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        scaler = torch.amp.GradScaler(device)  # expect: FX203
        model.train()
        train_loss, n_train = 0.0, 0
        for batch, targets in train_loader:
            batch, targets = batch.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device, dtype=amp_dtype):
                loss = criterion(model(batch), targets)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            train_loss += loss.item() * batch.size(0)
            n_train += batch.size(0)

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
            for batch, targets in val_loader:
                batch, targets = batch.to(device), targets.to(device)
                correct += (model(batch).argmax(1) == targets).sum().item()
                n_val += batch.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss / n_train:.4f}  "
              f"val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
