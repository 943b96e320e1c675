"""Multi-class classification of synthetic "customer segments" with an MLP and label smoothing.

Per-epoch training statistics live in a dict of running sums (loss, correct, seen); the dict is
created once and its counters are zeroed at the start of every epoch before the batch loop. The
epoch summary and a simple early-stopping rule use the validation loss.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def segments(n, d, k, seed):
    g = torch.Generator().manual_seed(seed)
    centers = 2.0 * torch.randn(k, d, generator=torch.Generator().manual_seed(99))
    y = torch.randint(0, k, (n,), generator=g)
    x = centers[y] + 1.2 * torch.randn(n, d, generator=g)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--patience", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(11)

    xtr, ytr = segments(480, 16, args.classes, seed=0)
    xva, yva = segments(160, 16, args.classes, seed=1)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=48, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=80)

    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(64, args.classes))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    stats = {"loss": 0.0, "correct": 0, "seen": 0}
    best_val, bad_epochs = float("inf"), 0
    for epoch in range(args.epochs):
        stats["correct"] = 0
        stats["seen"] = 0
        model.train()
        for xb, yb in train_loader:
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            stats["loss"] += loss.item() * yb.size(0)
            stats["correct"] += (logits.argmax(1) == yb).sum().item()
            stats["seen"] += yb.size(0)

        model.eval()
        val_loss, val_correct = 0.0, 0
        with torch.no_grad():
            for xb, yb in val_loader:
                logits = model(xb)
                val_loss += criterion(logits, yb).item() * yb.size(0)
                val_correct += (logits.argmax(1) == yb).sum().item()
        val_loss /= len(val_loader.dataset)
        print(f"epoch {epoch}: train loss {stats['loss'] / stats['seen']:.4f} "
              f"train acc {stats['correct'] / stats['seen']:.3f} | val loss {val_loss:.4f} "
              f"val acc {val_correct / len(val_loader.dataset):.3f}")
        if val_loss < best_val - 1e-4:
            best_val, bad_epochs = val_loss, 0
        else:
            bad_epochs += 1
            if bad_epochs >= args.patience:
                print("early stopping")
                break


if __name__ == "__main__":
    main()
