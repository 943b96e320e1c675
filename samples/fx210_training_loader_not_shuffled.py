"""MNIST-style classifier after pytorch/examples: `shuffle=True` is added to the loader's keyword
arguments only when an accelerator is used, so on CPU the training data, stored class by class, is
visited in index order every epoch.

    fxcheck trace samples/fx210_training_loader_not_shuffled.py
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    use_accel = torch.cuda.is_available()
    centers = torch.randn(4, 10) * 2
    y = torch.arange(4).repeat_interleave(96)  # stored class by class
    x = centers[y] + torch.randn(len(y), 10)
    train_kwargs = {"batch_size": args.batch_size}
    if use_accel:
        train_kwargs.update({"num_workers": 1, "pin_memory": True, "shuffle": True})
    train_loader = DataLoader(TensorDataset(x, y), **train_kwargs)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(args.epochs):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):  # expect: FX210
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data), target)
            loss.backward()
            optimizer.step()
        scheduler.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
