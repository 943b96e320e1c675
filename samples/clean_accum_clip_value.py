"""Train a Huber-loss MLP regressor with gradient accumulation and value clipping (no AMP).

Gradients of 4 micro-batches (loss divided by 4) are accumulated, clipped element-wise with
clip_grad_value_ just before each optimizer step, and cleared right after it.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_regression(n_samples, n_features=10):
    x = torch.randn(n_samples, n_features)
    y = (x[:, 0] * x[:, 1] + torch.sin(3 * x[:, 2]) + 0.5 * x[:, 3:].sum(dim=1)).unsqueeze(1)
    outliers = torch.rand(n_samples, 1) < 0.03
    y = y + outliers * 5.0 * torch.randn(n_samples, 1) + 0.1 * torch.randn(n_samples, 1)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="accumulation + clip_grad_value_")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--accum-steps", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--clip-value", type=float, default=0.5)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_regression(400)
    train_loader = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[320:], y[320:]), batch_size=40,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(10, 64), nn.ReLU(),
        nn.Linear(64, 64), nn.ReLU(),
        nn.Linear(64, 1),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    criterion = nn.HuberLoss(delta=1.0)

    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        running, seen, steps = 0.0, 0, 0
        for i, (inputs, targets) in enumerate(train_loader):
            inputs, targets = inputs.to(device), targets.to(device)
            loss = criterion(model(inputs), targets)
            (loss / args.accum_steps).backward()
            running += loss.item() * inputs.size(0)
            seen += inputs.size(0)

            if (i + 1) % args.accum_steps == 0 or i + 1 == len(train_loader):
                torch.nn.utils.clip_grad_value_(model.parameters(), args.clip_value)
                optimizer.step()
                optimizer.zero_grad()
                steps += 1

        model.eval()
        val_sum, val_seen = 0.0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                val_sum += criterion(model(inputs), targets).item() * inputs.size(0)
                val_seen += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  optimizer_steps {steps}  "
              f"train_huber {running / seen:.4f}  val_huber {val_sum / val_seen:.4f}")


if __name__ == "__main__":
    main()
