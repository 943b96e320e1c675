"""Convolutional denoising autoencoder for synthetic 16x16 "sprites", tutorial-style script.

Clean sprites (random rectangles and blobs) are corrupted with Gaussian noise; the model learns to
restore them with an MSE loss. The script prints the mean training loss of each epoch next to the
validation loss and keeps the epoch with the lowest validation loss.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(2024)


def sprites(n, seed):
    g = torch.Generator().manual_seed(seed)
    imgs = torch.zeros(n, 1, 16, 16)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    for i in range(n):
        r0, c0 = torch.randint(0, 10, (2,), generator=g).tolist()
        h, w = torch.randint(3, 7, (2,), generator=g).tolist()
        imgs[i, 0, r0:r0 + h, c0:c0 + w] = 1.0
        cy, cx = (torch.rand(2, generator=g) * 16).tolist()
        imgs[i, 0] += torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
    return imgs.clamp(0, 1)


class DAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
                                 nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x))


clean_train = sprites(320, seed=0)
clean_val = sprites(96, seed=1)
train_loader = DataLoader(TensorDataset(clean_train), batch_size=32, shuffle=True)
val_loader = DataLoader(TensorDataset(clean_val), batch_size=48)

model = DAE()
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
noise_std = 0.3
n_epochs = 4

best_val, best_epoch = float("inf"), -1
running_loss = 0.0
for epoch in range(n_epochs):
    model.train()
    for (clean,) in train_loader:
        noisy = (clean + noise_std * torch.randn_like(clean)).clamp(0, 1)
        optimizer.zero_grad()
        loss = criterion(model(noisy), clean)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()

    model.eval()
    val_loss = 0.0
    with torch.no_grad():
        for (clean,) in val_loader:
            noisy = (clean + noise_std * torch.randn_like(clean)).clamp(0, 1)
            val_loss += criterion(model(noisy), clean).item()
    val_loss /= len(val_loader)
    train_loss = running_loss / len(train_loader)
    if val_loss < best_val:
        best_val, best_epoch = val_loss, epoch
    print(f"[epoch {epoch + 1}] train loss: {train_loss:.5f}  val loss: {val_loss:.5f}")

print(f"Finished training; best val loss {best_val:.5f} at epoch {best_epoch + 1}")
