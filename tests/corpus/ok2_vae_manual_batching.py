"""Gaussian VAE on synthetic 16-D data lying near a 2-D manifold, with hand-rolled mini-batching (no DataLoader).

KL weight is annealed over global steps; the learning rate is decayed per epoch and a full checkpoint is written each epoch.
"""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

EPOCHS = 4
BATCH_SIZE = 64
DATA_DIM = 16
LATENT = 2
KL_WARMUP_STEPS = 20
BASE_LR = 3e-3


def make_manifold_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.rand(n, 2, generator=g) * 4 - 2
    lift = torch.randn(4, DATA_DIM, generator=torch.Generator().manual_seed(17))
    feats = torch.cat([z, torch.sin(z)], dim=1)
    return feats @ lift + 0.05 * torch.randn(n, DATA_DIM, generator=g)


class VAE(nn.Module):
    def __init__(self, hidden=48):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(DATA_DIM, hidden), nn.Tanh(), nn.Linear(hidden, 2 * LATENT))
        self.dec = nn.Sequential(nn.Linear(LATENT, hidden), nn.Tanh(), nn.Linear(hidden, DATA_DIM))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def elbo_terms(model, x):
    recon, mu, logvar = model(x)
    rec = F.mse_loss(recon, x, reduction="none").sum(1).mean()
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
    return rec, kl


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out_dir = tempfile.mkdtemp(prefix="vae_manifold_")
    train_x = make_manifold_data(512, seed=1).to(device)
    val_x = make_manifold_data(128, seed=2).to(device)

    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=BASE_LR)
    shuffle_gen = torch.Generator().manual_seed(123)
    global_step = 0
    n_batches = len(train_x) // BATCH_SIZE

    for epoch in range(EPOCHS):
        lr = BASE_LR * 0.7 ** epoch
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        perm = torch.randperm(len(train_x), generator=shuffle_gen).to(device)
        epoch_rec, epoch_kl = 0.0, 0.0
        for b in range(n_batches):
            x = train_x[perm[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]]
            beta = min(1.0, global_step / KL_WARMUP_STEPS)
            rec, kl = elbo_terms(model, x)
            loss = rec + beta * kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            global_step += 1
            epoch_rec += rec.item()
            epoch_kl += kl.item()

        model.eval()
        with torch.no_grad():
            val_rec, val_kl = elbo_terms(model, val_x)
        torch.save(
            {"epoch": epoch, "global_step": global_step, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
            os.path.join(out_dir, "checkpoint.pt"),
        )
        print(f"epoch {epoch + 1}/{EPOCHS} step {global_step} lr {lr:.2e} beta {beta:.2f} "
              f"rec {epoch_rec / n_batches:.3f} kl {epoch_kl / n_batches:.3f} "
              f"val_elbo {(val_rec + val_kl).item():.3f}")


if __name__ == "__main__":
    main()
