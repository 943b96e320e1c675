"""Small BatchNorm CNN on synthetic 12x12 texture patches (stripes at 4 orientations).

train_one_epoch / evaluate split, ReduceLROnPlateau, early stopping with best-weight
restore and a final held-out test pass.
"""
import argparse
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_textures(n, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    angles = labels.float() * math.pi / 4
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    freq = 0.9 + 0.3 * torch.rand(n, generator=g)
    phase = 2 * math.pi * torch.rand(n, generator=g)
    proj = xx[None] * torch.cos(angles)[:, None, None] + yy[None] * torch.sin(angles)[:, None, None]
    images = torch.sin(freq[:, None, None] * proj + phase[:, None, None])
    images = images + 0.5 * torch.randn(n, size, size, generator=g)
    return images.unsqueeze(1), labels


class TextureCNN(nn.Module):
    def __init__(self, num_classes=4, p_drop=0.3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(p_drop),
            nn.Linear(32, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(inplace=True),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def train_one_epoch(model, loader, optimizer):
    model.train()
    loss_sum, correct, n = 0.0, 0, 0
    for images, labels in loader:
        optimizer.zero_grad(set_to_none=True)
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * labels.size(0)
        correct += (logits.argmax(1) == labels).sum().item()
        n += labels.size(0)
    return loss_sum / n, correct / n


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for images, labels in loader:
        logits = model(images)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
        n += labels.size(0)
    return loss_sum / n, correct / n


class EarlyStopping:
    def __init__(self, patience=2, min_delta=1e-3):
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.best_state = None
        self.counter = 0

    def step(self, value, model):
        if value < self.best - self.min_delta:
            self.best = value
            self.best_state = copy.deepcopy(model.state_dict())
            self.counter = 0
            return False
        self.counter += 1
        return self.counter >= self.patience


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--patience", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(2024)
    train_loader = DataLoader(TensorDataset(*make_textures(640, seed=1)), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(*make_textures(192, seed=2)), batch_size=64)
    test_loader = DataLoader(TensorDataset(*make_textures(192, seed=3)), batch_size=64)

    model = TextureCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    stopper = EarlyStopping(patience=args.patience)

    for epoch in range(1, args.epochs + 1):
        tr_loss, tr_acc = train_one_epoch(model, train_loader, optimizer)
        va_loss, va_acc = evaluate(model, val_loader)
        scheduler.step(va_loss)
        print(
            f"[{epoch:02d}] train loss {tr_loss:.4f} acc {tr_acc:.3f} | "
            f"val loss {va_loss:.4f} acc {va_acc:.3f} | lr {optimizer.param_groups[0]['lr']:.1e}"
        )
        if stopper.step(va_loss, model):
            print("early stopping")
            break

    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    te_loss, te_acc = evaluate(model, test_loader)
    print(f"test loss {te_loss:.4f} acc {te_acc:.3f}")


if __name__ == "__main__":
    main()
