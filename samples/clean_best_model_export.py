"""A GRU sequence classifier that keeps a best-model export the way pytorch/examples'
word_language_model does: when the validation loss improves, the whole module is pickled into an
open file (`torch.save(model, f)`); training goes on and the file is reloaded only for the final
test. Resume checkpoints are not part of this script, so no optimizer state belongs in that file."""
import argparse
import os
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class GRUClassifier(nn.Module):
    def __init__(self, d_in: int = 6, hidden: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.gru = nn.GRU(d_in, hidden, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        _, h = self.gru(x)
        return self.fc(self.drop(h[-1]))


def evaluate(model, loader) -> float:
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            total += nn.functional.cross_entropy(model(x), y, reduction="sum").item()
            n += len(y)
    return total / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--save", default=os.path.join(tempfile.mkdtemp(prefix="best-"), "model.pt"))
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(480, 10, 6)
    y = (x[:, :, 0].mean(1) > 0).long() + (x[:, :, 1].mean(1) > 0.2).long()
    train = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[320:400], y[320:400]), batch_size=40)
    test = DataLoader(TensorDataset(x[400:], y[400:]), batch_size=40)
    model = GRUClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    best = float("inf")
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        val_loss = evaluate(model, val)
        print(f"epoch {epoch}: val loss {val_loss:.4f}")
        if val_loss < best:
            with open(args.save, "wb") as f:
                torch.save(model, f)
            best = val_loss
    with open(args.save, "rb") as f:
        model = torch.load(f, weights_only=False)
    print(f"test loss {evaluate(model, test):.4f}")


if __name__ == "__main__":
    main()
