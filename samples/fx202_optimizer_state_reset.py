"""Train an MLP regressor on synthetic nonlinear tabular data with Adam.

Bug: at the start of every epoch the optimizer's per-parameter state is replaced by an empty
dict ("reset momentum"), so Adam's moment estimates and step counts go back to zero each
epoch and its bias correction treats every epoch's first batches as the start of training.
"""
import argparse
import collections

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_regression(n_samples, n_features=16):
    x = torch.randn(n_samples, n_features)
    w = torch.randn(n_features)
    y = torch.sin(x @ w / 2) + 0.3 * x[:, 0] * x[:, 1] + 0.05 * torch.randn(n_samples)
    return x, y.unsqueeze(1)


def main():
    parser = argparse.ArgumentParser(description="MLP regressor, Adam")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_regression(576)
    train_loader = DataLoader(TensorDataset(x[:480], y[:480]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[480:], y[480:]), batch_size=48,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(16, 64), nn.SiLU(),
        nn.Linear(64, 64), nn.SiLU(),
        nn.Linear(64, 1),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999))
    criterion = nn.MSELoss()

    for epoch in range(args.epochs):
        # start each epoch with fresh moment estimates
        optimizer.state = collections.defaultdict(dict)  # expect: FX202

        model.train()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * inputs.size(0)
            n_train += inputs.size(0)

        model.eval()
        val_loss, n_val = 0.0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                val_loss += criterion(model(inputs), targets).item() * inputs.size(0)
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_mse {train_loss / n_train:.4f}  "
              f"val_mse {val_loss / n_val:.4f}")


if __name__ == "__main__":
    main()
