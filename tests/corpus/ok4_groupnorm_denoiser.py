"""Conv1d denoising autoencoder with GroupNorm on synthetic piecewise-smooth signals.

No dropout and no BatchNorm, so train/eval mode makes no difference to the
forward pass; validation only needs gradient tracking turned off.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_signals(n, length=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, length)
    freqs = 1.0 + 4.0 * torch.rand(n, 2, generator=g)
    amps = torch.rand(n, 2, generator=g)
    clean = amps[:, :1] * torch.sin(2 * math.pi * freqs[:, :1] * t) + amps[:, 1:] * torch.cos(
        2 * math.pi * freqs[:, 1:] * t
    )
    jump_at = torch.randint(length // 4, 3 * length // 4, (n, 1), generator=g)
    clean = clean + 0.5 * (torch.arange(length)[None, :] >= jump_at).float()
    noisy = clean + 0.3 * torch.randn(n, length, generator=g)
    return noisy.unsqueeze(1), clean.unsqueeze(1)


def conv_gn(cin, cout, groups=4):
    return nn.Sequential(nn.Conv1d(cin, cout, 5, padding=2), nn.GroupNorm(groups, cout), nn.SiLU())


class Denoiser(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.enc1 = conv_gn(1, width)
        self.enc2 = conv_gn(width, 2 * width)
        self.mid = conv_gn(2 * width, 2 * width)
        self.dec1 = conv_gn(4 * width, width)
        self.out = nn.Conv1d(2 * width, 1, 3, padding=1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.avg_pool1d(e1, 2))
        m = self.mid(e2)
        d1 = self.dec1(torch.cat([m, e2], dim=1))
        d1 = F.interpolate(d1, scale_factor=2, mode="linear", align_corners=False)
        return x + self.out(torch.cat([d1, e1], dim=1))


def warmup_cosine(step, warmup, total):
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def train_one_epoch(model, loader, optimizer, scheduler):
    total = 0.0
    for noisy, clean in loader:
        pred = model(noisy)
        loss = F.l1_loss(pred, clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
    return total / len(loader)


def evaluate(model, loader):
    mse, n = 0.0, 0
    with torch.no_grad():
        for noisy, clean in loader:
            pred = model(noisy)
            mse += F.mse_loss(pred, clean, reduction="sum").item()
            n += clean.numel()
    mse /= n
    return mse, 10 * math.log10(1.0 / mse)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=8)
    args = parser.parse_args()

    torch.manual_seed(99)
    train_loader = DataLoader(TensorDataset(*make_signals(512, seed=1)), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(*make_signals(128, seed=2)), batch_size=64)

    model = Denoiser()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    total_steps = args.epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, args.warmup, total_steps))

    base_mse, _ = evaluate(nn.Identity(), val_loader)
    print(f"noisy-input baseline mse {base_mse:.4f}")
    for epoch in range(args.epochs):
        train_l1 = train_one_epoch(model, train_loader, optimizer, scheduler)
        val_mse, val_psnr = evaluate(model, val_loader)
        print(f"epoch {epoch + 1}: train_l1 {train_l1:.4f} val_mse {val_mse:.4f} psnr {val_psnr:.2f} dB")


if __name__ == "__main__":
    main()
