"""Fine-tuning with two optimizers (discriminative learning rates): the backbone's SGD and the new
head's Adam both step every batch, but the backbone stays frozen for the first epochs (requires_grad
False), so its optimizer has nothing to apply yet. Checks may only count steps that could consume
gradients: the backbone optimizer's steps are not evidence that gradients reached a step."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--unfreeze_at", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(384, 12)
    y = (x[:, :3].sum(1) > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    backbone = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
    head = nn.Linear(32, 2)
    for p in backbone.parameters():
        p.requires_grad_(False)
    backbone_opt = torch.optim.SGD(backbone.parameters(), lr=1e-3, momentum=0.9)
    head_opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for epoch in range(args.epochs):
        if epoch == args.unfreeze_at:
            for p in backbone.parameters():
                p.requires_grad_(True)
        total = 0.0
        for xb, yb in loader:
            backbone_opt.zero_grad()
            head_opt.zero_grad()
            loss = nn.functional.cross_entropy(head(backbone(xb)), yb)
            loss.backward()
            backbone_opt.step()
            head_opt.step()
            total += loss.item()
        print(f"epoch {epoch}: loss {total / len(loader):.4f}")


if __name__ == "__main__":
    main()
