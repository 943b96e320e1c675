"""The SWA script of clean_swa_update_bn.py, whose averaged model is validated by a helper that never
calls eval(): `update_bn` leaves the AveragedModel in training mode, so its validation forwards run
BatchNorm in training mode and overwrite the statistics update_bn has just recomputed. The
recalibration itself is not evaluation; the validation right after it is."""
import argparse

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, SWALR, update_bn
from torch.utils.data import DataLoader, TensorDataset


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def swa_accuracy(model: nn.Module, loader: DataLoader) -> float:
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:  # expect: FX302  # expect: FX303
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(640, 16)
    y = (x[:, :4].sum(1) > 0).long()
    train_loader = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=32, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[512:], y[512:]), batch_size=64)
    model = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    swa_model = AveragedModel(model)
    swa_scheduler = SWALR(optimizer, swa_lr=0.02)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train_loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        if epoch >= 1:
            swa_model.update_parameters(model)
            swa_scheduler.step()
        print(f"epoch {epoch}: val acc {evaluate(model, val_loader):.3f}")
        swa_model.update_parameters(model)
        update_bn(train_loader, swa_model)
        print(f"epoch {epoch}: swa val acc {swa_accuracy(swa_model, val_loader):.3f}")


if __name__ == "__main__":
    main()
