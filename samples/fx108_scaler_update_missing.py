"""Train an MLP autoencoder on synthetic low-rank data with mixed precision.

Bug: scaler.update() is called once per epoch, like an LR scheduler, instead of after every
scaler.step(); PyTorch stops the run at the second batch with
"RuntimeError: step() has already been called since the last update()."
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_low_rank(n_samples, dim=48, rank=6):
    basis = torch.randn(rank, dim)
    codes = torch.randn(n_samples, rank)
    return codes @ basis + 0.05 * torch.randn(n_samples, dim)


def main():
    parser = argparse.ArgumentParser(description="MLP autoencoder with AMP")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16

    data = make_low_rank(448)
    train_loader = DataLoader(TensorDataset(data[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(data[384:]), batch_size=args.batch_size,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 8),   # encoder
        nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 48),   # decoder
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scaler = torch.amp.GradScaler(device)
    criterion = nn.MSELoss()

    for epoch in range(args.epochs):
        model.train()
        running, n_batches = 0.0, 0
        for (batch,) in train_loader:
            batch = batch.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device, dtype=amp_dtype):
                recon = model(batch)
                loss = criterion(recon.float(), batch)
            scaler.scale(loss).backward()
            scaler.step(optimizer)  # expect: FX108
            running += loss.item()
            n_batches += 1
        # adjust the loss scale once per epoch
        scaler.update()

        model.eval()
        val_loss, n_val = 0.0, 0
        with torch.no_grad():
            for (batch,) in val_loader:
                batch = batch.to(device)
                val_loss += criterion(model(batch), batch).item()
                n_val += 1

        print(f"epoch {epoch + 1}/{args.epochs}  train_mse {running / n_batches:.4f}  "
              f"val_mse {val_loss / n_val:.4f}")


if __name__ == "__main__":
    main()
