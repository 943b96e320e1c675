"""Train a convolutional autoencoder on synthetic 1x16x16 blob images with Adam + StepLR.

Bug: the per-epoch checkpoint stores only the epoch number and the model weights; Adam's
moment estimates and the StepLR position are not saved, so resuming from it silently restarts
the optimizer from empty state and the learning-rate schedule from its first step.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_blobs(n_samples, size=16, max_blobs=3):
    coords = torch.arange(size).float()
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    images = torch.zeros(n_samples, 1, size, size)
    for i in range(n_samples):
        for _ in range(int(torch.randint(1, max_blobs + 1, (1,)))):
            cy, cx = torch.rand(2) * (size - 4) + 2
            sigma = 1.0 + 1.5 * torch.rand(1)
            images[i, 0] += torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
    return images.clamp(max=1.0)


class ConvAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


def main():
    parser = argparse.ArgumentParser(description="Conv autoencoder with checkpoints")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--ckpt-dir", default=None, help="checkpoint folder (default: a new temp dir)")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt_dir = args.ckpt_dir or tempfile.mkdtemp(prefix="ae_ckpt_")
    os.makedirs(ckpt_dir, exist_ok=True)

    images = make_blobs(448)
    train_loader = DataLoader(TensorDataset(images[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(images[384:]), batch_size=64,
                            shuffle=False, num_workers=0)

    model = ConvAutoencoder().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.3)
    criterion = nn.MSELoss()

    for epoch in range(args.epochs):
        model.train()
        train_loss, n_train = 0.0, 0
        for (batch,) in train_loader:
            batch = batch.to(device)
            optimizer.zero_grad()
            loss = criterion(model(batch), batch)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * batch.size(0)
            n_train += batch.size(0)
        scheduler.step()

        model.eval()
        val_loss, n_val = 0.0, 0
        with torch.no_grad():
            for (batch,) in val_loader:
                batch = batch.to(device)
                val_loss += criterion(model(batch), batch).item() * batch.size(0)
                n_val += batch.size(0)

        path = os.path.join(ckpt_dir, f"epoch_{epoch + 1:03d}.pt")
        torch.save({"epoch": epoch, "model": model.state_dict()}, path)  # expect: FX601
        print(f"epoch {epoch + 1}/{args.epochs}  train_mse {train_loss / n_train:.5f}  "
              f"val_mse {val_loss / n_val:.5f}  saved {path}")


if __name__ == "__main__":
    main()
