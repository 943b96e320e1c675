"""Convolutional denoising autoencoder on synthetic 24x24 blob images, mixed-precision training.

Device-agnostic AMP: float16 autocast on CUDA, bfloat16 on CPU, with a GradScaler.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_blobs(n, size=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    cx = torch.rand(n, 1, 1, generator=g) * size
    cy = torch.rand(n, 1, 1, generator=g) * size
    sigma = 2.0 + 3.0 * torch.rand(n, 1, 1, generator=g)
    clean = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).unsqueeze(1)
    noisy = clean + 0.25 * torch.randn(clean.shape, generator=g)
    return TensorDataset(noisy, clean)


class DenoisingAE(nn.Module):
    def __init__(self, ch=16):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, ch, 3, padding=1), nn.ReLU(),
            nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(ch * 2, ch, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(ch, 1, 3, padding=1),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip-grad", type=float, default=0.5)
    p.add_argument("--no-amp", action="store_true")
    return p.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(123)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_amp = not args.no_amp
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    train_loader = DataLoader(make_blobs(320, seed=1), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(make_blobs(64, seed=2), batch_size=64)

    model = DenoisingAE().to(device)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)

    for epoch in range(args.epochs):
        model.train()
        epoch_loss = 0.0
        for step, (noisy, clean) in enumerate(train_loader):
            noisy, clean = noisy.to(device), clean.to(device)
            optimizer.zero_grad()
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                recon = model(noisy)
                loss = criterion(recon.float(), clean)
            scaler.scale(loss).backward()
            if args.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            epoch_loss += loss.item()
        epoch_loss /= len(train_loader)

        model.eval()
        with torch.no_grad():
            val_loss = 0.0
            for noisy, clean in val_loader:
                noisy, clean = noisy.to(device), clean.to(device)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    val_loss += criterion(model(noisy).float(), clean).item()
            val_loss /= len(val_loader)
        print(f"[{epoch + 1}/{args.epochs}] train_mse={epoch_loss:.5f} val_mse={val_loss:.5f}")


if __name__ == "__main__":
    main()
