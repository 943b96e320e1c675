"""Tiny CNN on procedurally generated 16x16 shape images (bars, crosses, boxes, dots).

SGD with Nesterov momentum and a MultiStepLR schedule; reports validation loss and
per-class accuracy every epoch.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

CLASSES = ("hbar", "vbar", "cross", "box")


def render_shapes(n, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(CLASSES), (n,), generator=g)
    images = 0.3 * torch.randn(n, 1, size, size, generator=g)
    offsets = torch.randint(3, size - 3, (n, 2), generator=g)
    for i in range(n):
        r, c = offsets[i].tolist()
        k = labels[i].item()
        if k == 0:
            images[i, 0, r, 1:-1] += 1.0
        elif k == 1:
            images[i, 0, 1:-1, c] += 1.0
        elif k == 2:
            images[i, 0, r, 1:-1] += 1.0
            images[i, 0, 1:-1, c] += 1.0
        else:
            images[i, 0, r - 2 : r + 3, c - 2] += 1.0
            images[i, 0, r - 2 : r + 3, c + 2] += 1.0
            images[i, 0, r - 2, c - 2 : c + 3] += 1.0
            images[i, 0, r + 2, c - 2 : c + 3] += 1.0
    return images, labels


def conv_bn(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ShapeNet(nn.Module):
    def __init__(self, num_classes=len(CLASSES)):
        super().__init__()
        self.body = nn.Sequential(
            conv_bn(1, 16),
            conv_bn(16, 16),
            nn.MaxPool2d(2),
            conv_bn(16, 32),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.body(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


def train_one_epoch(model, loader, optimizer, log_every=10):
    model.train()
    running = 0.0
    for step, (images, labels) in enumerate(loader):
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item()
        if (step + 1) % log_every == 0:
            print(f"  step {step + 1:3d} loss {running / (step + 1):.4f}")
    return running / len(loader)


@torch.no_grad()
def evaluate(model, loader, num_classes=len(CLASSES)):
    loss_sum, n = 0.0, 0
    hits = torch.zeros(num_classes)
    counts = torch.zeros(num_classes)
    for images, labels in loader:
        logits = model(images)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        n += labels.numel()
        pred = logits.argmax(dim=1)
        counts += torch.bincount(labels, minlength=num_classes).float()
        hits += torch.bincount(labels[pred == labels], minlength=num_classes).float()
    return loss_sum / n, hits / counts.clamp(min=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    torch.manual_seed(1234)
    x_train, y_train = render_shapes(480, seed=1)
    x_val, y_val = render_shapes(120, seed=2)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=40)

    model = ShapeNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2], gamma=0.2)

    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        train_loss = train_one_epoch(model, train_loader, optimizer)
        val_loss, per_class = evaluate(model, val_loader)
        scheduler.step()
        accs = " ".join(f"{name}={acc:.2f}" for name, acc in zip(CLASSES, per_class.tolist()))
        print(
            f"epoch {epoch + 1}/{args.epochs} train {train_loss:.4f} val {val_loss:.4f} "
            f"[{accs}] {time.perf_counter() - t0:.1f}s"
        )


if __name__ == "__main__":
    main()
