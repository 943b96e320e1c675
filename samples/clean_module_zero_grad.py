"""Train a small residual MLP classifier with RMSprop, clearing gradients via the module.

Gradients are zeroed in place with model.zero_grad(set_to_none=False) before each forward
pass, so the gradient tensors are kept allocated and reused across batches.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class ResidualBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


class ResMLP(nn.Module):
    def __init__(self, in_dim=20, dim=64, n_blocks=2, n_classes=5):
        super().__init__()
        self.stem = nn.Linear(in_dim, dim)
        self.blocks = nn.Sequential(*[ResidualBlock(dim) for _ in range(n_blocks)])
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def make_dataset(n_samples, n_features=20, n_classes=5):
    w = torch.randn(n_features, n_classes)
    x = torch.randn(n_samples, n_features)
    y = (torch.tanh(x) @ w).argmax(dim=1)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="residual MLP, RMSprop")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_dataset(512)
    train_loader = DataLoader(TensorDataset(x[:416], y[:416]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[416:], y[416:]), batch_size=48,
                            shuffle=False, num_workers=0)

    model = ResMLP().to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr, alpha=0.9)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        model.train()
        total_loss, total = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            model.zero_grad(set_to_none=False)
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * inputs.size(0)
            total += inputs.size(0)

        model.eval()
        val_loss, correct, n_val = 0.0, 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = model(inputs)
                val_loss += criterion(logits, targets).item() * inputs.size(0)
                correct += (logits.argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {total_loss / total:.4f}  "
              f"val_loss {val_loss / n_val:.4f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
