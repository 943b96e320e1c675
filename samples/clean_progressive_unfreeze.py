"""Transfer-learning schedule: the backbone is frozen before the first step and only the head trains;
from the second epoch the backbone's last block is unfrozen and added to the optimizer with a lower
learning rate (`add_param_group`), and from the third the whole backbone trains. Nothing is frozen
after it has been updated, and every optimizer step updates parameters.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(384, 12)
    y = (x[:, 0] * x[:, 1] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    backbone = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
    head = nn.Linear(32, 2)
    backbone.requires_grad_(False)
    optimizer = torch.optim.AdamW(head.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        if epoch == 1:
            backbone[2].requires_grad_(True)
            optimizer.add_param_group({"params": backbone[2].parameters(), "lr": 1e-3})
        elif epoch == 2:
            backbone[0].requires_grad_(True)
            optimizer.add_param_group({"params": backbone[0].parameters(), "lr": 3e-4})
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(head(backbone(xb)), yb)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, {len(optimizer.param_groups)} parameter groups")


if __name__ == "__main__":
    main()
