"""Denoising MLP autoencoder on synthetic low-rank signals, trained with automatic mixed precision.

autocast uses float16 on CUDA and bfloat16 on CPU; reconstruction MSE is reported on a clean validation set.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
BATCH_SIZE = 32
SIGNAL_DIM = 48
LATENT_DIM = 8
NOISE_STD = 0.3


def make_signals(n, seed):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(LATENT_DIM, SIGNAL_DIM, generator=torch.Generator().manual_seed(123))
    codes = torch.randn(n, LATENT_DIM, generator=g)
    return torch.tanh(codes @ basis / LATENT_DIM ** 0.5)


class DenoisingAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(SIGNAL_DIM, 64), nn.GELU(), nn.Linear(64, LATENT_DIM))
        self.decoder = nn.Sequential(nn.Linear(LATENT_DIM, 64), nn.GELU(), nn.Linear(64, SIGNAL_DIM))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def train_one_epoch(model, loader, optimizer, device, amp_dtype, use_amp=True):
    model.train()
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    total, n = 0.0, 0
    for (clean,) in loader:
        clean = clean.to(device)
        noisy = clean + NOISE_STD * torch.randn_like(clean)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
            recon = model(noisy)
            loss = F.mse_loss(recon.float(), clean)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        scaler.step(optimizer)
        scaler.update()
        total += loss.item() * clean.size(0)
        n += clean.size(0)
    return total / n


@torch.no_grad()
def evaluate(model, loader, device, amp_dtype, use_amp=True):
    model.eval()
    total, n = 0.0, 0
    for (clean,) in loader:
        clean = clean.to(device)
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
            recon = model(clean + NOISE_STD * torch.randn_like(clean))
        total += F.mse_loss(recon.float(), clean, reduction="sum").item() / SIGNAL_DIM
        n += clean.size(0)
    return total / n


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    train_loader = DataLoader(TensorDataset(make_signals(640, seed=1)), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(TensorDataset(make_signals(160, seed=2)), batch_size=160)

    model = DenoisingAE().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)

    for epoch in range(EPOCHS):
        train_mse = train_one_epoch(model, train_loader, optimizer, device, amp_dtype)
        val_mse = evaluate(model, val_loader, device, amp_dtype)
        print(f"epoch {epoch + 1}/{EPOCHS} train_mse {train_mse:.4f} val_mse {val_mse:.4f}")


if __name__ == "__main__":
    main()
