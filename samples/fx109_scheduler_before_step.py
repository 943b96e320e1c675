"""Train a small CNN with SGD and a step-decay learning-rate schedule on synthetic images.

Bug: scheduler.step() is called at the top of each epoch (the pre-1.1 PyTorch convention),
before that epoch's optimizer steps, so the schedule's first value is skipped and every epoch
runs at the next epoch's learning rate (PyTorch warns about the call order).
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_images(n_samples, n_classes=5, size=12):
    templates = torch.randn(n_classes, 3, size, size)
    labels = torch.randint(0, n_classes, (n_samples,))
    images = templates[labels] + torch.randn(n_samples, 3, size, size)
    return images, labels


def main():
    parser = argparse.ArgumentParser(description="CNN with StepLR")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--lr-step", type=int, default=1)
    parser.add_argument("--gamma", type=float, default=0.5)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    images, labels = make_images(448)
    train_loader = DataLoader(TensorDataset(images[:384], labels[:384]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(images[384:], labels[384:]),
                            batch_size=args.batch_size, shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(32, 5),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_step, gamma=args.gamma)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        scheduler.step()  # expect: FX109
        lr = optimizer.param_groups[0]["lr"]

        model.train()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * inputs.size(0)
            n_train += inputs.size(0)

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                correct += (model(inputs).argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  lr {lr:.4f}  train_loss {train_loss / n_train:.4f}  "
              f"val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
