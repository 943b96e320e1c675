"""Siamese embedding network trained with a contrastive loss on pairs of synthetic identity vectors.

SGDR schedule: CosineAnnealingWarmRestarts stepped with fractional epochs, as in the PyTorch docs example.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

EPOCHS = 3
BATCH_SIZE = 32
NUM_IDS = 8
DIM = 12
MARGIN = 1.0


class PairDataset(Dataset):
    def __init__(self, n_pairs, seed):
        g = torch.Generator().manual_seed(seed)
        prototypes = torch.randn(NUM_IDS, DIM, generator=torch.Generator().manual_seed(11))
        a = torch.randint(0, NUM_IDS, (n_pairs,), generator=g)
        same = torch.rand(n_pairs, generator=g) < 0.5
        b = torch.where(same, a, (a + torch.randint(1, NUM_IDS, (n_pairs,), generator=g)) % NUM_IDS)
        self.x1 = prototypes[a] + 0.6 * torch.randn(n_pairs, DIM, generator=g)
        self.x2 = prototypes[b] + 0.6 * torch.randn(n_pairs, DIM, generator=g)
        self.same = same.float()

    def __len__(self):
        return len(self.same)

    def __getitem__(self, i):
        return self.x1[i], self.x2[i], self.same[i]


class SiameseNet(nn.Module):
    def __init__(self, emb_dim=8):
        super().__init__()
        self.embedding = nn.Sequential(nn.Linear(DIM, 32), nn.ReLU(), nn.Linear(32, emb_dim))

    def forward(self, x1, x2):
        return self.embedding(x1), self.embedding(x2)


def contrastive_loss(e1, e2, same, margin=MARGIN):
    d = F.pairwise_distance(e1, e2)
    return (same * d.pow(2) + (1 - same) * F.relu(margin - d).pow(2)).mean()


@torch.no_grad()
def evaluate(model, loader, device, threshold=0.5):
    model.eval()
    correct, n, total = 0, 0, 0.0
    for x1, x2, same in loader:
        x1, x2, same = x1.to(device), x2.to(device), same.to(device)
        e1, e2 = model(x1, x2)
        total += contrastive_loss(e1, e2, same).item() * same.size(0)
        pred_same = (F.pairwise_distance(e1, e2) < threshold).float()
        correct += (pred_same == same).sum().item()
        n += same.size(0)
    return total / n, correct / n


def main():
    torch.manual_seed(3)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(PairDataset(512, seed=1), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(PairDataset(256, seed=2), batch_size=256)

    model = SiameseNet().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=1, T_mult=2, eta_min=1e-4)
    iters = len(train_loader)

    for epoch in range(EPOCHS):
        model.train()
        running_loss = 0.0
        for i, (x1, x2, same) in enumerate(train_loader):
            x1, x2, same = x1.to(device), x2.to(device), same.to(device)
            optimizer.zero_grad()
            e1, e2 = model(x1, x2)
            loss = contrastive_loss(e1, e2, same)
            loss.backward()
            optimizer.step()
            scheduler.step(epoch + i / iters)
            running_loss += loss.item()
        val_loss, val_acc = evaluate(model, val_loader, device)
        print(f"epoch {epoch + 1}/{EPOCHS} train_loss {running_loss / iters:.4f} val_loss {val_loss:.4f} "
              f"val_pair_acc {val_acc:.3f} lr {optimizer.param_groups[0]['lr']:.2e}")


if __name__ == "__main__":
    main()
