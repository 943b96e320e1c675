"""A tabular classifier trained with mixed precision (bfloat16 autocast and a GradScaler) and
"restart from best": every epoch after the first starts again from the best checkpoint so far
(model and optimizer state reloaded), with the learning rate decayed — a common way to stop a run
from drifting away from its best point.

Bug: best.pt holds the model and the optimizer but not the GradScaler, so every restart keeps
the loss scale of the drifted run instead of the one that went with the best weights (and a
resume of the job from best.pt restarts it at its initial value).
"""
import argparse
import os

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n: int, d: int = 16):
    x = torch.randn(n, d)
    w = torch.randn(d)
    y = (x @ w + 0.3 * torch.randn(n) > 0).long()
    return TensorDataset(x, y)


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    total, n = 0.0, 0
    for x, y in loader:
        total += nn.functional.cross_entropy(model(x), y, reduction="sum").item()
        n += len(y)
    model.train()
    return total / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)
    best_path = os.path.join(args.out, "best.pt")

    train_dl = DataLoader(make_data(512), batch_size=32, shuffle=True)
    val_dl = DataLoader(make_data(128), batch_size=64)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cpu")
    best = float("inf")

    for epoch in range(args.epochs):
        if epoch > 0:  # restart from the best point so far, with a smaller learning rate
            state = torch.load(best_path)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            for group in optimizer.param_groups:
                group["lr"] *= 0.5
        for x, y in train_dl:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        val = evaluate(model, val_dl)
        print(f"epoch {epoch}: val loss {val:.4f}")
        if val < best:
            best = val
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, best_path)  # expect: FX601


if __name__ == "__main__":
    main()
