"""SN-GAN on the classic 8-Gaussians ring (2-D toy), hinge loss.

The discriminator uses torch.nn.utils.spectral_norm (hook-based API). The
discriminator is frozen while the generator is updated (pix2pix-style
set_requires_grad) and unfrozen again for its own update. Models are only
evaluated at the end of each epoch, i.e. after training steps."""
import argparse
import logging
import math
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
logger = logging.getLogger("sngan")


def ring_of_gaussians(n, modes=8, radius=2.0, std=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(0, modes, (n,), generator=g)
    angle = 2 * math.pi * k.float() / modes
    centers = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    return centers + std * torch.randn(n, 2, generator=g)


class Generator(nn.Module):
    def __init__(self, z_dim=8, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            spectral_norm(nn.Linear(2, hidden)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, hidden)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, 1)),
        )

    def forward(self, x):
        return self.net(x).squeeze(1)


def set_requires_grad(net, flag):
    for p in net.parameters():
        p.requires_grad_(flag)


def mode_coverage(samples, modes=8, radius=2.0, tol=0.3):
    angle = 2 * math.pi * torch.arange(modes).float() / modes
    centers = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    d = torch.cdist(samples, centers)
    nearest = d.min(1)
    good = nearest.values < tol
    return nearest.indices[good].unique().numel(), good.float().mean().item()


class GANTrainer:
    def __init__(self, G, D, args):
        self.G, self.D, self.args = G, D, args
        self.opt_g = torch.optim.Adam(G.parameters(), lr=args.lr_g, betas=(0.0, 0.9))
        self.opt_d = torch.optim.Adam(D.parameters(), lr=args.lr_d, betas=(0.0, 0.9))

    def train_epoch(self, loader):
        self.G.train()
        self.D.train()
        d_sum, g_sum, n = 0.0, 0.0, 0
        for (real,) in loader:
            z = torch.randn(real.size(0), self.args.z_dim)
            # --- discriminator step
            set_requires_grad(self.D, True)
            self.opt_d.zero_grad()
            fake = self.G(z).detach()
            d_loss = F.relu(1 - self.D(real)).mean() + F.relu(1 + self.D(fake)).mean()
            d_loss.backward()
            self.opt_d.step()
            # --- generator step (D frozen so no grads are accumulated in it)
            set_requires_grad(self.D, False)
            self.opt_g.zero_grad()
            g_loss = -self.D(self.G(z)).mean()
            g_loss.backward()
            self.opt_g.step()
            d_sum += d_loss.item()
            g_sum += g_loss.item()
            n += 1
        set_requires_grad(self.D, True)
        return d_sum / n, g_sum / n

    @torch.no_grad()
    def evaluate(self, real_val):
        self.G.eval()
        self.D.eval()
        fake = self.G(torch.randn(512, self.args.z_dim))
        d_real = self.D(real_val).mean().item()
        d_fake = self.D(fake).mean().item()
        covered, frac_good = mode_coverage(fake)
        return {"d_real": d_real, "d_fake": d_fake, "modes": covered, "frac_good": frac_good}

    def checkpoint(self, path, epoch):
        torch.save({"epoch": epoch, "G": self.G.state_dict(), "D": self.D.state_dict(),
                    "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--z-dim", type=int, default=8)
    ap.add_argument("--lr-g", type=float, default=1e-3)
    ap.add_argument("--lr-d", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    torch.manual_seed(args.seed)

    real_train = ring_of_gaussians(1024, seed=1)
    real_val = ring_of_gaussians(512, seed=2)
    loader = DataLoader(TensorDataset(real_train), batch_size=args.batch_size, shuffle=True, drop_last=True)

    trainer = GANTrainer(Generator(args.z_dim), Discriminator(), args)
    ckpt = os.path.join(tempfile.gettempdir(), "sngan_ring.pt")
    for epoch in range(args.epochs):
        d_loss, g_loss = trainer.train_epoch(loader)
        metrics = trainer.evaluate(real_val)
        logger.info("epoch %d d_loss %.3f g_loss %.3f | %s", epoch, d_loss, g_loss,
                    {k: round(v, 3) for k, v in metrics.items()})
        trainer.checkpoint(ckpt, epoch)


if __name__ == "__main__":
    main()
