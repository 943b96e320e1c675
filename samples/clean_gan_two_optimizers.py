"""Train a small GAN on a 2-D ring of eight Gaussians with the standard DCGAN update order.

Each batch first updates the discriminator on real samples and detached fakes, then the
generator through the discriminator; each Adam optimizer clears its own gradients before
its update.
"""
import argparse
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def ring_of_gaussians(n_samples, n_modes=8, radius=2.0, std=0.05):
    modes = torch.randint(0, n_modes, (n_samples,))
    angles = modes.float() * (2 * math.pi / n_modes)
    centers = torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)
    return centers + std * torch.randn(n_samples, 2)


class Generator(nn.Module):
    def __init__(self, latent_dim, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x).squeeze(1)


def main():
    parser = argparse.ArgumentParser(description="GAN on a 2-D Gaussian ring")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    data = ring_of_gaussians(1024)
    loader = DataLoader(TensorDataset(data), batch_size=args.batch_size, shuffle=True,
                        num_workers=0, drop_last=True)

    netG = Generator(args.latent_dim).to(device)
    netD = Discriminator().to(device)
    optimizerD = torch.optim.Adam(netD.parameters(), lr=args.lr, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=args.lr, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    fixed_noise = torch.randn(256, args.latent_dim, device=device)

    for epoch in range(args.epochs):
        netG.train()
        sum_d, sum_g, sum_dx, sum_dgz, n = 0.0, 0.0, 0.0, 0.0, 0
        for (real,) in loader:
            real = real.to(device)
            b = real.size(0)
            real_label = torch.ones(b, device=device)
            fake_label = torch.zeros(b, device=device)

            # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
            optimizerD.zero_grad()
            out_real = netD(real)
            errD_real = criterion(out_real, real_label)
            noise = torch.randn(b, args.latent_dim, device=device)
            fake = netG(noise)
            out_fake = netD(fake.detach())
            errD_fake = criterion(out_fake, fake_label)
            errD = errD_real + errD_fake
            errD.backward()
            optimizerD.step()

            # (2) update G: maximize log(D(G(z)))
            optimizerG.zero_grad()
            out = netD(fake)
            errG = criterion(out, real_label)
            errG.backward()
            optimizerG.step()

            sum_d += errD.item()
            sum_g += errG.item()
            sum_dx += torch.sigmoid(out_real).mean().item()
            sum_dgz += torch.sigmoid(out).mean().item()
            n += 1

        netG.eval()
        with torch.no_grad():
            samples = netG(fixed_noise)
            radius = samples.norm(dim=1).mean().item()
        print(f"epoch {epoch + 1}/{args.epochs}  loss_D {sum_d / n:.4f}  loss_G {sum_g / n:.4f}  "
              f"D(x) {sum_dx / n:.3f}  D(G(z)) {sum_dgz / n:.3f}  sample_radius {radius:.3f}")


if __name__ == "__main__":
    main()
