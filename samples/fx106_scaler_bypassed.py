"""Train an MLP classifier on synthetic features with mixed precision (autocast + GradScaler).

Bug: the loss is backpropagated through scaler.scale() but the optimizer is stepped with
optimizer.step() instead of scaler.step(optimizer): SGD applies gradients still multiplied
by the loss scale (65536) and the loss blows up to NaN in the first epoch.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=32, n_classes=6):
    centers = 2.0 * torch.randn(n_classes, n_features)
    y = torch.randint(0, n_classes, (n_samples,))
    x = centers[y] + torch.randn(n_samples, n_features)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="MLP classifier with AMP")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16

    x, y = make_dataset(448)
    train_loader = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=args.batch_size,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(32, 128), nn.GELU(),
        nn.Linear(128, 128), nn.GELU(),
        nn.Linear(128, 6),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scaler = torch.amp.GradScaler(device)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        model.train()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device, dtype=amp_dtype):
                loss = criterion(model(inputs), targets)
            scaler.scale(loss).backward()
            optimizer.step()  # expect: FX106
            train_loss += loss.item() * inputs.size(0)
            n_train += inputs.size(0)

        model.eval()
        val_loss, n_val = 0.0, 0
        with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                val_loss += criterion(model(inputs), targets).item() * inputs.size(0)
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss / n_train:.4f}  "
              f"val_loss {val_loss / n_val:.4f}")


if __name__ == "__main__":
    main()
