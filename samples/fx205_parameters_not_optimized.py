"""Fine-tune a residual MLP classifier on synthetic tabular data with a 5-class label set.

Bug: the optimizer is built over the model as constructed (default 10-class head), and only
afterwards is `model.fc` replaced by a new 5-class head; the new head's weights receive
gradients every step but belong to no optimizer, so they stay at their random initialization.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=20, n_classes=5):
    centers = 0.5 * torch.randn(n_classes, n_features)
    y = torch.randint(0, n_classes, (n_samples,))
    x = centers[y] + torch.randn(n_samples, n_features)
    return x, y


class ResidualBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        return x + self.ff(self.norm(x))


class ResMLP(nn.Module):
    def __init__(self, in_features=20, dim=64, depth=2, n_classes=10):
        super().__init__()
        self.stem = nn.Linear(in_features, dim)
        self.blocks = nn.Sequential(*[ResidualBlock(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, n_classes)

    def forward(self, x):
        return self.fc(self.norm(self.blocks(self.stem(x))))


def main():
    parser = argparse.ArgumentParser(description="Residual MLP fine-tuning")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--num-classes", type=int, default=5)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_dataset(600, n_classes=args.num_classes)
    train_loader = DataLoader(TensorDataset(x[:480], y[:480]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[480:], y[480:]), batch_size=60,
                            shuffle=False, num_workers=0)

    model = ResMLP().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

    # adapt the classifier to this dataset's label set
    if model.fc.out_features != args.num_classes:
        model.fc = nn.Linear(model.fc.in_features, args.num_classes).to(device)

    for epoch in range(args.epochs):
        model.train()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()  # expect: FX205
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
