"""Beta-VAE on synthetic 64-dim binary "sprite" vectors with KL annealing and mixed precision.

Reports reconstruction BCE, KL and the ELBO on a held-out split each epoch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

LATENT = 8
EPOCHS = 3
KL_WARMUP_STEPS = 10
BETA_MAX = 1.0


def make_sprites(n, seed):
    g = torch.Generator().manual_seed(seed)
    prototypes = (torch.rand(6, 64, generator=torch.Generator().manual_seed(99)) > 0.5).float()
    idx = torch.randint(0, 6, (n,), generator=g)
    flips = (torch.rand(n, 64, generator=g) < 0.05).float()
    return TensorDataset((prototypes[idx] + flips) % 2)


class VAE(nn.Module):
    def __init__(self, in_dim=64, hidden=128, latent=LATENT):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, in_dim))

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.dec(z), mu, logvar


def vae_terms(recon_logits, x, mu, logvar):
    recon = F.binary_cross_entropy_with_logits(recon_logits.float(), x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar.float() - mu.float().pow(2) - logvar.float().exp()) / x.size(0)
    return recon, kl


def main():
    torch.manual_seed(11)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    train_loader = DataLoader(make_sprites(480, seed=1), batch_size=32, shuffle=True)
    test_loader = DataLoader(make_sprites(96, seed=2), batch_size=96)

    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type)

    global_step = 0
    for epoch in range(1, EPOCHS + 1):
        model.train()
        sums = {"recon": 0.0, "kl": 0.0}
        for (x,) in train_loader:
            x = x.to(device)
            beta = BETA_MAX * min(1.0, global_step / KL_WARMUP_STEPS)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=amp_dtype):
                recon_logits, mu, logvar = model(x)
            recon_loss, kl_loss = vae_terms(recon_logits, x, mu, logvar)

            scaler.scale(recon_loss).backward(retain_graph=beta > 0)
            if beta > 0:
                (beta * kl_loss).backward()
            scaler.step(optimizer)
            scaler.update()

            sums["recon"] += recon_loss.item()
            sums["kl"] += kl_loss.item()
            global_step += 1

        model.eval()
        with torch.no_grad():
            (x,) = next(iter(test_loader))
            x = x.to(device)
            recon_logits, mu, logvar = model(x)
            r, k = vae_terms(recon_logits, x, mu, logvar)
        n = len(train_loader)
        print(
            f"Epoch {epoch}: recon {sums['recon'] / n:.3f} kl {sums['kl'] / n:.3f} "
            f"beta {beta:.2f} | test ELBO {-(r + k).item():.3f}"
        )


if __name__ == "__main__":
    main()
