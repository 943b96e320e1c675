"""Train a GRU sequence classifier on synthetic sequences (is the running sum positive?).

Bug: clip_grad_norm_ is called after optimizer.step() (where it was moved so its return
value could be logged), so clipping only touches gradients that are about to be cleared and
never limits an update; exploding gradients reach the weights unclipped.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_sequences(n_samples, seq_len=20, n_features=4):
    x = torch.randn(n_samples, seq_len, n_features)
    y = (x[:, :, 0].cumsum(dim=1)[:, -1] > 0).long()
    return x, y


class GRUClassifier(nn.Module):
    def __init__(self, n_features=4, hidden=48, n_classes=2):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):
        _, h = self.gru(x)
        return self.head(h[-1])


def main():
    parser = argparse.ArgumentParser(description="GRU sequence classifier")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--max-grad-norm", type=float, default=0.5)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_sequences(448)
    train_loader = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=args.batch_size,
                            shuffle=False, num_workers=0)

    model = GRUClassifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        model.train()
        loss_sum, norm_sum, n_batches = 0.0, 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)  # expect: FX105
            loss_sum += loss.item()
            norm_sum += grad_norm.item()
            n_batches += 1

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                correct += (model(inputs).argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {loss_sum / n_batches:.4f}  "
              f"grad_norm {norm_sum / n_batches:.3f}  val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
