"""MLP regressor that clips before the step and logs the post-step gradient norm.

`clip_grad_norm_(params, inf)` only measures the norm (nothing is clipped), a common way to log it;
a second optimizer for an embedding table steps every batch, a no-op by design during the first
epoch's warm-up (the table is frozen, so none of its parameters receives gradients), then trains it.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    embed = nn.Embedding(16, 8)
    head = nn.Sequential(nn.Linear(8 + 4, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
    opt_embed = torch.optim.SGD(embed.parameters(), lr=1e-2)
    ids, feats = torch.randint(0, 16, (320,)), torch.randn(320, 4)
    target = feats.sum(1, keepdim=True)
    loader = DataLoader(TensorDataset(ids, feats, target), batch_size=32, shuffle=True)
    for epoch in range(args.epochs):
        embed.weight.requires_grad_(epoch > 0)  # frozen during the warm-up epoch
        norms = []
        for i, f, y in loader:
            opt.zero_grad()
            opt_embed.zero_grad()
            pred = head(torch.cat([embed(i), f], 1))
            loss = nn.functional.mse_loss(pred, y)
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
            opt_embed.step()
            norms.append(float(nn.utils.clip_grad_norm_(head.parameters(), float("inf"))))
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  mean grad norm {sum(norms) / len(norms):.3f}")


if __name__ == "__main__":
    main()
