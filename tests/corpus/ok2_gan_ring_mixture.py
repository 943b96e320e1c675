"""DCGAN-style GAN (MLP generator/discriminator) learning a ring of 8 Gaussians in 2D.

Follows the PyTorch DCGAN example loop: D is updated on real then fake batches, then G with the non-saturating loss.
"""
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
BATCH_SIZE = 32
NZ = 8
REAL_LABEL, FAKE_LABEL = 1.0, 0.0


def make_ring(n, seed, modes=8, radius=2.0, std=0.05):
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(0, modes, (n,), generator=g).float()
    centers = torch.stack([radius * torch.cos(2 * math.pi * k / modes), radius * torch.sin(2 * math.pi * k / modes)], 1)
    return TensorDataset(centers + std * torch.randn(n, 2, generator=g))


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(NZ, 64), nn.ReLU(True), nn.Linear(64, 64), nn.ReLU(True), nn.Linear(64, 2))

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2, True), nn.Linear(64, 64),
                                  nn.LeakyReLU(0.2, True), nn.Linear(64, 1), nn.Sigmoid())

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.1)
        nn.init.zeros_(m.bias)


def main():
    torch.manual_seed(999)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dataloader = DataLoader(make_ring(512, seed=1), batch_size=BATCH_SIZE, shuffle=True)

    netG = Generator().to(device)
    netG.apply(weights_init)
    netD = Discriminator().to(device)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(256, NZ, device=device)
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))

    iters = 0
    G_losses, D_losses = [], []
    for epoch in range(EPOCHS):
        for i, (real,) in enumerate(dataloader):
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real_cpu = real.to(device)
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), REAL_LABEL, dtype=torch.float, device=device)
            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            noise = torch.randn(b_size, NZ, device=device)
            fake = netG(noise)
            label.fill_(FAKE_LABEL)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            # (2) Update G network: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(REAL_LABEL)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            if i % 8 == 0:
                print(f"[{epoch}/{EPOCHS}][{i}/{len(dataloader)}]\tLoss_D: {errD.item():.4f}\tLoss_G: {errG.item():.4f}"
                      f"\tD(x): {D_x:.4f}\tD(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}")
            G_losses.append(errG.item())
            D_losses.append(errD.item())
            iters += 1

        with torch.no_grad():
            samples = netG(fixed_noise)
        print(f"epoch {epoch + 1}: iters {iters}, mean radius of samples {samples.norm(dim=1).mean().item():.3f}")


if __name__ == "__main__":
    main()
