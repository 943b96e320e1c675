"""Train a small CNN on synthetic images with SGD and a per-batch OneCycle schedule.

OneCycleLR is built with total_steps = epochs * len(train_loader) and stepped after every
optimizer.step(), so the schedule ends exactly at the last batch of the last epoch.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_images(n_samples, n_classes=5, size=12):
    templates = torch.randn(n_classes, 1, size, size)
    labels = torch.randint(0, n_classes, (n_samples,))
    shift = torch.randint(-1, 2, (n_samples, 2))
    images = torch.stack([torch.roll(templates[c], shifts=(int(dx), int(dy)), dims=(1, 2))
                          for c, (dx, dy) in zip(labels.tolist(), shift)])
    return images + 0.7 * torch.randn_like(images), labels


def main():
    parser = argparse.ArgumentParser(description="CNN with OneCycleLR")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--max-lr", type=float, default=0.1)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    images, labels = make_images(432)
    train_loader = DataLoader(TensorDataset(images[:360], labels[:360]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(images[360:], labels[360:]),
                            batch_size=args.batch_size, shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(32, 5),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.max_lr / 25, momentum=0.9,
                                nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.max_lr, total_steps=args.epochs * len(train_loader),
        pct_start=0.3,
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)

    for epoch in range(args.epochs):
        model.train()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            scheduler.step()
            train_loss += loss.item() * inputs.size(0)
            n_train += inputs.size(0)

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                correct += (model(inputs).argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  lr {scheduler.get_last_lr()[0]:.5f}  "
              f"train_loss {train_loss / n_train:.4f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
