"""Mixed-precision GAN on a 2-D ring with one GradScaler shared by both optimizers.

Per iteration: D steps on real + detached fake, G steps through D (its backward also writes D's
gradients, which D clears before its next backward), then a single scaler.update() covers both
steps, as the AMP recipe for several optimizers prescribes.
"""
import argparse
import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def ring(n: int) -> torch.Tensor:
    angle = torch.rand(n) * 2 * math.pi
    return torch.stack([angle.cos(), angle.sin()], 1) * 2 + 0.05 * torch.randn(n, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16
    G = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 2)).to(device)
    D = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    scaler = torch.amp.GradScaler(device)
    bce = nn.BCEWithLogitsLoss()
    loader = DataLoader(TensorDataset(ring(768)), batch_size=64, shuffle=True)

    for epoch in range(args.epochs):
        for (real,) in loader:
            real = real.to(device)
            z = torch.randn(real.size(0), 8, device=device)
            with torch.autocast(device_type=device, dtype=amp_dtype):
                fake = G(z)
                d_loss = bce(D(real), torch.ones(real.size(0), 1, device=device)) + \
                    bce(D(fake.detach()), torch.zeros(real.size(0), 1, device=device))
            opt_d.zero_grad(set_to_none=True)
            scaler.scale(d_loss).backward()
            scaler.step(opt_d)

            with torch.autocast(device_type=device, dtype=amp_dtype):
                g_loss = bce(D(fake), torch.ones(real.size(0), 1, device=device))
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(g_loss).backward()
            scaler.step(opt_g)
            scaler.update()
        print(f"epoch {epoch + 1}: d_loss {d_loss.item():.3f}  g_loss {g_loss.item():.3f}")


if __name__ == "__main__":
    main()
