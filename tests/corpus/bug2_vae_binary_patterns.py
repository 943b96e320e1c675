"""Variational autoencoder (MLP encoder/decoder) on synthetic 8x8 binary stroke patterns.

Follows the classic PyTorch VAE example: BCE reconstruction + KL divergence, average loss per sample each epoch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
BATCH_SIZE = 32
LOG_INTERVAL = 5
IMG = 8 * 8


def make_patterns(n, seed):
    g = torch.Generator().manual_seed(seed)
    imgs = torch.zeros(n, 8, 8)
    rows = torch.randint(0, 8, (n,), generator=g)
    cols = torch.randint(0, 8, (n,), generator=g)
    imgs[torch.arange(n), rows, :] = 1.0
    imgs[torch.arange(n), :, cols] = 1.0
    flip = torch.rand(n, 8, 8, generator=g) < 0.03
    imgs = torch.where(flip, 1.0 - imgs, imgs)
    return imgs.view(n, IMG)


class VAE(nn.Module):
    def __init__(self, hidden=64, latent=4):
        super().__init__()
        self.fc1 = nn.Linear(IMG, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, IMG)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    torch.manual_seed(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(TensorDataset(make_patterns(544, seed=3)), batch_size=BATCH_SIZE, shuffle=True)
    test_loader = DataLoader(TensorDataset(make_patterns(128, seed=4)), batch_size=BATCH_SIZE)

    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    train_loss = 0.0
    for epoch in range(1, EPOCHS + 1):
        model.train()
        for batch_idx, (data,) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % LOG_INTERVAL == 0:
                print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)}]"
                      f"\tLoss: {loss.item() / len(data):.4f}")
        print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")

        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for (data,) in test_loader:
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
        print(f"====> Test set loss: {test_loss / len(test_loader.dataset):.4f}")


if __name__ == "__main__":
    main()
