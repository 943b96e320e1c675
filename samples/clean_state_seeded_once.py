"""Train a dropout MLP on synthetic 12-feature data (3 classes) with a reproducible shuffle.

torch.manual_seed is called once at start-up and the shuffling training DataLoader gets its own
torch.Generator seeded once, so a rerun reproduces the whole run while each epoch still sees a
different sample order; the validation loader does not shuffle.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=12, n_classes=3):
    centers = torch.randn(n_classes, n_features)
    y = torch.randint(0, n_classes, (n_samples,))
    x = centers[y] + 0.9 * torch.randn(n_samples, n_features)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="Reproducible shuffling, seeded once")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_dataset(576)
    shuffle_gen = torch.Generator()
    shuffle_gen.manual_seed(args.seed)
    train_loader = DataLoader(TensorDataset(x[:448], y[:448]), batch_size=args.batch_size,
                              shuffle=True, generator=shuffle_gen, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[448:], y[448:]), batch_size=64,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(12, 64), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(64, 3),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
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
        val_loss, correct, n_val = 0.0, 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = model(inputs)
                val_loss += criterion(logits, targets).item() * inputs.size(0)
                correct += (logits.argmax(1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss / n_train:.4f}  "
              f"val_loss {val_loss / n_val:.4f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
