"""The Trainer of clean_fit_rebuilds_loader.py, whose fit() builds its optimizer with the epoch's new
DataLoader: from the second epoch on, AdamW starts again from empty moments. fxcheck must see the
epochs of a loader rebuilt every epoch to cut the run and to tell the second optimizer from a resume."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Trainer:
    def __init__(self, model: nn.Module, train_set, val_set, epochs: int) -> None:
        self.model, self.train_set, self.val_set, self.epochs = model, train_set, val_set, epochs

    def batch_size(self, epoch: int) -> int:
        return 16 * (1 + epoch % 2)

    def evaluate(self) -> float:
        self.model.eval()
        loader = DataLoader(self.val_set, batch_size=32)
        correct = 0
        with torch.no_grad():
            for x, y in loader:
                correct += (self.model(x).argmax(1) == y).sum().item()
        return correct / len(self.val_set)

    def fit(self) -> None:
        for epoch in range(self.epochs):
            loader = DataLoader(self.train_set, batch_size=self.batch_size(epoch), shuffle=True)
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=2e-3)  # expect: FX201
            self.model.train()
            running = 0.0
            for x, y in loader:
                self.optimizer.zero_grad()
                loss = nn.functional.cross_entropy(self.model(x), y)
                loss.backward()
                self.optimizer.step()
                running += loss.item()
            print(f"epoch {epoch}: loss {running / len(loader):.3f} acc {self.evaluate():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(480, 8)
    y = (x[:, 0] * x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
    Trainer(model, TensorDataset(x[:384], y[:384]), TensorDataset(x[384:], y[384:]), args.epochs).fit()


if __name__ == "__main__":
    main()
