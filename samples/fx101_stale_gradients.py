"""Train an MLP classifier on synthetic tabular features (8 classes).

Bug: optimizer.zero_grad() runs once at the start of each epoch instead of once per batch,
so every backward after an epoch's first one adds onto the gradients of all earlier batches
and each update applies a growing sum of stale gradients.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=24, n_classes=8):
    w = torch.randn(n_features, n_classes)
    x = torch.randn(n_samples, n_features)
    y = (x @ w + 0.5 * torch.randn(n_samples, n_classes)).argmax(dim=1)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="Tabular MLP classifier")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_dataset(480)
    train_loader = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=args.batch_size,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(24, 128), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 8),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs)
            loss = criterion(logits, targets)
            loss.backward()  # expect: FX101
            optimizer.step()
            train_loss += loss.item() * inputs.size(0)
            n_train += inputs.size(0)

        model.eval()
        val_loss, correct, n_val = 0.0, 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = model(inputs)
                val_loss += criterion(logits, targets).item() * inputs.size(0)
                correct += (logits.argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss / n_train:.4f}  "
              f"val_loss {val_loss / n_val:.4f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
