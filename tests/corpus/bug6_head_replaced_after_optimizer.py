"""Transfer a small CNN "pretrained" on 10 texture classes to a 4-class glyph task.

The backbone weights come from a checkpoint written at startup (standing in for a downloaded one),
the whole network is fine-tuned with SGD + momentum and a cosine schedule, and the classifier head
is resized to the new number of classes.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class SmallCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x):
        x = self.features(x).flatten(1)
        return self.fc(self.dropout(x))


def glyphs(n, num_classes, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, 16, 16, generator=g)
    for i in range(n):
        c = y[i].item()
        if c == 0:
            x[i, 0, 7:9, :] += 1.0
        elif c == 1:
            x[i, 0, :, 7:9] += 1.0
        elif c == 2:
            x[i, 0].diagonal().add_(1.5)
        else:
            x[i, 0, 4:12, 4:12] += 0.8
    return x, y


def train_one_epoch(model, loader, optimizer, epoch):
    model.train()
    total, n = 0.0, 0
    for step, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * y.size(0)
        n += y.size(0)
    return total / n


@torch.no_grad()
def validate(model, loader):
    model.eval()
    correct, n = 0, 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
        n += y.size(0)
    return correct / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_classes", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(3)
    workdir = tempfile.mkdtemp(prefix="ft_cnn_")

    # stand-in for a pretrained checkpoint
    pretrained_path = os.path.join(workdir, "texture10.pt")
    torch.save(SmallCNN(num_classes=10).state_dict(), pretrained_path)

    model = SmallCNN(num_classes=10)
    model.load_state_dict(torch.load(pretrained_path))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    if args.num_classes != model.fc.out_features:
        model.fc = nn.Linear(model.fc.in_features, args.num_classes)

    xtr, ytr = glyphs(256, args.num_classes, seed=10)
    xva, yva = glyphs(128, args.num_classes, seed=11)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=64)

    for epoch in range(args.epochs):
        train_loss = train_one_epoch(model, train_loader, optimizer, epoch)
        scheduler.step()
        acc = validate(model, val_loader)
        print(f"epoch {epoch} lr {scheduler.get_last_lr()[0]:.4f} train loss {train_loss:.4f} val acc {acc:.3f}")


if __name__ == "__main__":
    main()
