"""Denoising autoencoder for synthetic 8x8 glyphs (bars, crosses, boxes), trained with accumulation.

Memory-limited setup: micro-batches of 16, two micro-batches per update. Gradients are cleared at
the start of each epoch "to be safe", and reconstruction error on clean held-out glyphs is
reported after every epoch.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_glyphs(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    imgs = torch.zeros(n, 8, 8)
    kind = torch.randint(0, 3, (n,), generator=g)
    pos = torch.randint(1, 7, (n, 2), generator=g)
    for k in range(n):
        r, c = pos[k].tolist()
        if kind[k] == 0:
            imgs[k, r, :] = 1.0
        elif kind[k] == 1:
            imgs[k, r, :] = 1.0
            imgs[k, :, c] = 1.0
        else:
            imgs[k, 1:7, 1] = imgs[k, 1:7, 6] = imgs[k, 1, 1:7] = imgs[k, 6, 1:7] = 1.0
    return imgs.view(n, 64)


class DAE(nn.Module):
    def __init__(self, d=64, h=32, z=12):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, z))
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, d))

    def forward(self, x):
        return self.dec(self.enc(x))


def corrupt(x, p=0.15):
    flip = torch.rand_like(x) < p
    return torch.where(flip, 1.0 - x, x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--micro_batch", type=int, default=16)
    parser.add_argument("--grad_accum", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    torch.manual_seed(21)

    glyphs = make_glyphs(176)
    train_loader = DataLoader(TensorDataset(glyphs[:112]), batch_size=args.micro_batch, shuffle=True)
    val_loader = DataLoader(TensorDataset(glyphs[112:]), batch_size=32)

    model = DAE()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr)

    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        train_bce = 0.0
        for step, (clean,) in enumerate(train_loader):
            logits = model(corrupt(clean))
            loss = F.binary_cross_entropy_with_logits(logits, clean)
            (loss / args.grad_accum).backward()
            train_bce += loss.item()
            if (step + 1) % args.grad_accum == 0:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

        model.eval()
        val_bce, n = 0.0, 0
        with torch.no_grad():
            for (clean,) in val_loader:
                val_bce += F.binary_cross_entropy_with_logits(model(clean), clean, reduction="sum").item()
                n += clean.numel()
        print(f"epoch {epoch}: train bce {train_bce / len(train_loader):.4f} | val bce {val_bce / n:.4f}")


if __name__ == "__main__":
    main()
