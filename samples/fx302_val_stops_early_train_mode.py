"""A small Lightning-style fit loop whose validation stops after `limit_val_batches` batches.

Bug: validation_step calls self.train() (to "make sure dropout is on", as a copied snippet did), so
the BatchNorm model is validated in training mode and its running statistics drift with every
validation batch."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(12, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Dropout(0.1), nn.Linear(48, 3))

    def training_step(self, batch):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch):
        self.train()
        x, y = batch
        logits = self.net(x)
        return (logits.argmax(1) == y).float().mean().item()


class MiniTrainer:
    def __init__(self, max_epochs: int, limit_val_batches: int, num_sanity_val_steps: int = 2) -> None:
        self.max_epochs = max_epochs
        self.limit_val_batches = limit_val_batches
        self.num_sanity_val_steps = num_sanity_val_steps

    def validate(self, module: Classifier, loader: DataLoader, limit: int) -> float:
        module.eval()
        accs = []
        with torch.no_grad():
            for i, batch in enumerate(loader):  # expect: FX302  # expect: FX303
                if i >= min(limit, len(loader)):
                    break
                accs.append(module.validation_step(batch))
        module.train()
        return sum(accs) / max(1, len(accs))

    def fit(self, module: Classifier, train_loader: DataLoader, val_loader: DataLoader) -> None:
        optimizer = torch.optim.AdamW(module.parameters(), lr=3e-3)
        self.validate(module, val_loader, self.num_sanity_val_steps)
        for epoch in range(self.max_epochs):
            module.train()
            for batch in train_loader:
                optimizer.zero_grad()
                loss = module.training_step(batch)
                loss.backward()
                optimizer.step()
            acc = self.validate(module, val_loader, self.limit_val_batches)
            print(f"epoch {epoch}: loss {loss.item():.3f} val acc {acc:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(640, 12)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    train_loader = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=32, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[512:], y[512:]), batch_size=16)
    MiniTrainer(args.epochs, limit_val_batches=3).fit(Classifier(), train_loader, val_loader)


if __name__ == "__main__":
    main()
