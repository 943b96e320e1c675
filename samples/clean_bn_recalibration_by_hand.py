"""BatchNorm statistics recalibrated by hand after each training epoch (the model is then evaluated
with fresh statistics): every BatchNorm's running stats are reset and accumulated as a cumulative
average (momentum=None) over training batches in training mode under no_grad, then the model is
validated in eval mode."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@torch.no_grad()
def recalibrate_bn(model: nn.Module, loader: DataLoader, batches: int = 4) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    for i, (x, _) in enumerate(loader):
        if i >= batches:
            break
        model(x)


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    loss = 0.0
    for x, y in loader:
        loss += nn.functional.mse_loss(model(x), y, reduction="sum").item()
    return loss / len(loader.dataset)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(600, 8)
    y = torch.sin(x[:, :1]) + 0.1 * torch.randn(600, 1)
    train_loader = DataLoader(TensorDataset(x[:480], y[:480]), batch_size=24, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[480:], y[480:]), batch_size=40)
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train_loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(xb), yb).backward()
            optimizer.step()
        recalibrate_bn(model, train_loader)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = 0.1
        print(f"epoch {epoch}: val mse {validate(model, val_loader):.4f}")


if __name__ == "__main__":
    main()
