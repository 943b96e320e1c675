"""Train a BatchNorm MLP on synthetic tabular data with SGD + StepLR; keep best and last checkpoints.

`best.pt` holds only the model weights (for inference/export) and is rewritten whenever the
validation loss improves; `last.pt` is the resumable checkpoint written at every epoch end with
the model, optimizer and scheduler state.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=20, n_classes=4):
    w = torch.randn(n_features, n_classes)
    x = 3.0 * torch.randn(n_samples, n_features) + 1.0
    y = ((x - 1.0) @ w + 2.0 * torch.randn(n_samples, n_classes)).argmax(dim=1)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="BatchNorm MLP, best + last checkpoints")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--ckpt-dir", default=None, help="checkpoint folder (default: a new temp dir)")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt_dir = args.ckpt_dir or tempfile.mkdtemp(prefix="mlp_ckpt_")
    os.makedirs(ckpt_dir, exist_ok=True)

    x, y = make_dataset(544)
    train_loader = DataLoader(TensorDataset(x[:448], y[:448]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[448:], y[448:]), batch_size=48,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 4),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.2)
    criterion = nn.CrossEntropyLoss()
    best_val = float("inf")

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
        scheduler.step()

        model.eval()
        val_loss, correct, n_val = 0.0, 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = model(inputs)
                val_loss += criterion(logits, targets).item() * inputs.size(0)
                correct += (logits.argmax(1) == targets).sum().item()
                n_val += inputs.size(0)
        val_loss /= n_val

        note = ""
        if val_loss < best_val:
            best_val = val_loss
            torch.save(model.state_dict(), os.path.join(ckpt_dir, "best.pt"))
            note = "  (best)"
        torch.save({
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "best_val": best_val,
        }, os.path.join(ckpt_dir, "last.pt"))
        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss / n_train:.4f}  "
              f"val_loss {val_loss:.4f}  val_acc {correct / n_val:.3f}{note}")


if __name__ == "__main__":
    main()
