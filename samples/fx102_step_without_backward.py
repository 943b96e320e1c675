"""Train a small WGAN (weight-clipped critic, RMSprop) on a 2-D ring of eight Gaussians.

Bug: the generator's optimizer.step() sits one indentation level too far out, so it runs on
every iteration while the generator's backward only runs every `n_critic` iterations; the
other steps re-apply the last generator gradient without any new backward.
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


def main():
    parser = argparse.ArgumentParser(description="WGAN on a 2-D Gaussian ring")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--clip-value", type=float, default=0.01)
    parser.add_argument("--lr", type=float, default=5e-5)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    data = ring_of_gaussians(1024)
    loader = DataLoader(TensorDataset(data), batch_size=args.batch_size, shuffle=True,
                        num_workers=0, drop_last=True)

    generator = nn.Sequential(
        nn.Linear(args.latent_dim, 64), nn.ReLU(),
        nn.Linear(64, 64), nn.ReLU(),
        nn.Linear(64, 2),
    ).to(device)
    critic = nn.Sequential(
        nn.Linear(2, 64), nn.LeakyReLU(0.2),
        nn.Linear(64, 64), nn.LeakyReLU(0.2),
        nn.Linear(64, 1),
    ).to(device)
    opt_g = torch.optim.RMSprop(generator.parameters(), lr=args.lr)
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=args.lr)

    for epoch in range(args.epochs):
        sum_c, sum_g, n_c, n_g = 0.0, 0.0, 0, 0
        for i, (real,) in enumerate(loader):
            real = real.to(device)

            # ---- critic: maximize D(real) - D(fake) ----
            for p in critic.parameters():
                p.requires_grad = True
            opt_c.zero_grad()
            z = torch.randn(real.size(0), args.latent_dim, device=device)
            fake = generator(z).detach()
            loss_c = critic(fake).mean() - critic(real).mean()
            loss_c.backward()
            opt_c.step()
            for p in critic.parameters():
                p.data.clamp_(-args.clip_value, args.clip_value)
            sum_c += loss_c.item()
            n_c += 1

            # ---- generator: one update every n_critic critic updates ----
            if i % args.n_critic == 0:
                for p in critic.parameters():
                    p.requires_grad = False  # no critic gradients from the generator loss
                opt_g.zero_grad()
                z = torch.randn(real.size(0), args.latent_dim, device=device)
                loss_g = -critic(generator(z)).mean()
                loss_g.backward()
                sum_g += loss_g.item()
                n_g += 1
            opt_g.step()  # expect: FX102

        print(f"epoch {epoch + 1}/{args.epochs}  critic_loss {sum_c / n_c:.4f}  "
              f"gen_loss {sum_g / max(n_g, 1):.4f}")


if __name__ == "__main__":
    main()
