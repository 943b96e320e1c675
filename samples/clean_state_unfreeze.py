"""Fine-tune an MLP backbone + head on synthetic tabular data with progressive unfreezing.

During the first epoch the backbone is frozen (requires_grad False) and Adam updates only the
head; at the start of the second epoch the backbone is unfrozen and added to the same optimizer
with optimizer.add_param_group() at a lower learning rate, so the head keeps its Adam state.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=24, n_classes=6):
    w1 = torch.randn(n_features, 16)
    w2 = torch.randn(16, n_classes)
    x = torch.randn(n_samples, n_features)
    y = (torch.tanh(x @ w1 / 3) @ w2 + 0.3 * torch.randn(n_samples, n_classes)).argmax(dim=1)
    return x, y


class Classifier(nn.Module):
    def __init__(self, in_features=24, hidden=64, n_classes=6):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Linear(in_features, hidden), nn.LayerNorm(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.head(self.backbone(x))


def main():
    parser = argparse.ArgumentParser(description="Progressive unfreezing")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--backbone-lr-mult", type=float, default=0.1)
    parser.add_argument("--unfreeze-epoch", type=int, default=1,
                        help="0-based epoch at which the backbone is unfrozen")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_dataset(600)
    train_loader = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[512:], y[512:]), batch_size=44,
                            shuffle=False, num_workers=0)

    model = Classifier().to(device)
    model.backbone.requires_grad_(False)
    optimizer = torch.optim.Adam(model.head.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        if epoch == args.unfreeze_epoch:
            model.backbone.requires_grad_(True)
            optimizer.add_param_group({"params": model.backbone.parameters(),
                                       "lr": args.lr * args.backbone_lr_mult})

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

        frozen = not next(model.backbone.parameters()).requires_grad
        print(f"epoch {epoch + 1}/{args.epochs}  backbone {'frozen' if frozen else 'trainable'}  "
              f"param_groups {len(optimizer.param_groups)}  train_loss {train_loss / n_train:.4f}  "
              f"val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
