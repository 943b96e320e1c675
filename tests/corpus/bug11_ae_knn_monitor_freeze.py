"""Denoising autoencoder for representation learning, with a kNN probe
on the bottleneck features after every epoch (standard SSL monitoring)."""
import argparse
import logging
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
log = logging.getLogger("dae")


def get_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--knn-k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out-dir", default=tempfile.gettempdir())
    return ap.parse_args()


def make_clusters(n, dim=32, n_classes=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(n_classes, dim, generator=torch.Generator().manual_seed(99)) * 2.0
    y = torch.randint(0, n_classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, dim, generator=g)
    return x, y


class DenoisingAE(nn.Module):
    def __init__(self, dim=32, hidden=64, bottleneck=12):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(dim, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Linear(hidden, bottleneck)
        )
        self.decoder = nn.Sequential(nn.Linear(bottleneck, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        return self.decoder(self.encoder(x))


@torch.no_grad()
def extract(encoder, loader):
    encoder.eval()
    encoder.requires_grad_(False)  # inference only
    feats, labels = [], []
    for x, y in loader:
        feats.append(F.normalize(encoder(x), dim=1))
        labels.append(y)
    return torch.cat(feats), torch.cat(labels)


def knn_accuracy(encoder, bank_loader, query_loader, k):
    bank_x, bank_y = extract(encoder, bank_loader)
    query_x, query_y = extract(encoder, query_loader)
    sims = query_x @ bank_x.t()
    idx = sims.topk(k, dim=1).indices
    votes = bank_y[idx]
    pred = torch.mode(votes, dim=1).values
    return (pred == query_y).float().mean().item()


def train_epoch(model, loader, optimizer, noise, epoch):
    model.train()
    total, count = 0.0, 0
    for i, (x, _) in enumerate(loader):
        optimizer.zero_grad()
        noisy = x + noise * torch.randn_like(x)
        recon = model(noisy)
        loss = F.mse_loss(recon, x)
        loss.backward()
        optimizer.step()
        total += loss.item() * x.size(0)
        count += x.size(0)
        if i % 8 == 0:
            log.info("epoch %d iter %d recon %.4f", epoch, i, loss.item())
    return total / count


@torch.no_grad()
def eval_recon(model, loader):
    model.eval()
    total, count = 0.0, 0
    for x, _ in loader:
        total += F.mse_loss(model(x), x, reduction="sum").item() / x.size(1)
        count += x.size(0)
    return total / count


def main():
    args = get_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    torch.manual_seed(args.seed)
    x_tr, y_tr = make_clusters(512, seed=1)
    x_va, y_va = make_clusters(160, seed=2)
    train_ds, val_ds = TensorDataset(x_tr, y_tr), TensorDataset(x_va, y_va)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True)
    bank_loader = DataLoader(train_ds, batch_size=128, shuffle=False)
    val_loader = DataLoader(val_ds, batch_size=128, shuffle=False)

    model = DenoisingAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    for epoch in range(args.epochs):
        train_loss = train_epoch(model, train_loader, optimizer, args.noise, epoch)
        val_loss = eval_recon(model, val_loader)
        knn = knn_accuracy(model.encoder, bank_loader, val_loader, args.knn_k)
        scheduler.step()
        log.info("epoch %d train %.4f val %.4f knn@%d %.3f", epoch, train_loss, val_loss, args.knn_k, knn)

    path = os.path.join(args.out_dir, "dae_final.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epochs": args.epochs}, path)
    log.info("saved %s", path)


if __name__ == "__main__":
    main()
