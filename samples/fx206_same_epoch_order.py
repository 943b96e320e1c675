"""Train a dropout MLP on synthetic two-moons-style 2-D data lifted to 10 features.

Bug: torch.manual_seed(seed) is called at the top of every epoch "for reproducibility"; the
shuffling DataLoader draws its permutation from the global generator, so every epoch visits
the batches in exactly the same order (and dropout draws the same masks), defeating shuffling.
"""
import argparse
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_moons(n_samples, noise=0.2, n_features=10):
    n_half = n_samples // 2
    angle = torch.rand(n_samples) * math.pi
    upper = torch.stack([torch.cos(angle[:n_half]), torch.sin(angle[:n_half])], dim=1)
    lower = torch.stack([1 - torch.cos(angle[n_half:]), 0.5 - torch.sin(angle[n_half:])], dim=1)
    points = torch.cat([upper, lower]) + noise * torch.randn(n_samples, 2)
    labels = torch.cat([torch.zeros(n_half), torch.ones(n_samples - n_half)]).long()
    # lift to a higher-dimensional space with a fixed random projection plus nuisance features
    features = torch.cat([points @ torch.randn(2, n_features - 4), torch.randn(n_samples, 4)], dim=1)
    perm = torch.randperm(n_samples)
    return features[perm], labels[perm]


def main():
    parser = argparse.ArgumentParser(description="Dropout MLP on lifted two-moons")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_moons(640)
    train_loader = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[512:], y[512:]), batch_size=64,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(10, 64), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(64, 2),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        # make every epoch reproducible on its own
        torch.manual_seed(args.seed)  # expect: FX206

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
                correct += (model(inputs).argmax(1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss / n_train:.4f}  "
              f"val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
