"""Text-length regressor trained with gradient accumulation over 4 micro-batches.

Bug: each micro-batch loss is backpropagated as is, not divided by the accumulation steps, so
every update is 4x the size the learning rate was tuned for.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACCUM_STEPS = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x = torch.randn(512, 32)
    y = x[:, :4].sum(1, keepdim=True)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)  # 16 micro-batches per epoch

    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        optimizer.zero_grad(set_to_none=True)
        for i, (xb, yb) in enumerate(loader):
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()  # expect: FX401
            total += loss.item()
            if (i + 1) % ACCUM_STEPS == 0:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        print(f"epoch {epoch + 1}: train mse {total / len(loader):.4f}")


if __name__ == "__main__":
    main()
