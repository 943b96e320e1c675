"""Siamese embedding network trained with a margin contrastive loss on pairs plus a supervised
cross-entropy term on a small labelled batch, under AMP with a GradScaler.
"""
import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

EMB_DIM = 16
NUM_CLASSES = 8
MARGIN = 1.0
SUP_WEIGHT = 0.5


class PairDataset(Dataset):
    """Returns (x1, x2, same) where same=1 if both samples share a class."""

    def __init__(self, x, y, n_pairs, seed):
        g = torch.Generator().manual_seed(seed)
        self.x, self.y = x, y
        i = torch.randint(0, len(x), (n_pairs,), generator=g)
        # half of the pairs are forced positives
        j = torch.randint(0, len(x), (n_pairs,), generator=g)
        for k in range(0, n_pairs, 2):
            same = (y == y[i[k]]).nonzero().flatten()
            j[k] = same[torch.randint(0, len(same), (1,), generator=g)]
        self.i, self.j = i, j

    def __len__(self):
        return len(self.i)

    def __getitem__(self, k):
        a, b = self.i[k], self.j[k]
        return self.x[a], self.x[b], (self.y[a] == self.y[b]).float()


class EmbeddingNet(nn.Module):
    def __init__(self, d_in=24):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, EMB_DIM))
        self.classifier = nn.Linear(EMB_DIM, NUM_CLASSES)

    def embed(self, x):
        return F.normalize(self.net(x), dim=-1)

    def forward(self, x1, x2):
        return self.embed(x1), self.embed(x2)


def contrastive_loss(e1, e2, same, margin=MARGIN):
    d = F.pairwise_distance(e1, e2)
    return (same * d.pow(2) + (1 - same) * F.relu(margin - d).pow(2)).mean()


def make_pool(n, seed):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(NUM_CLASSES, 24, generator=torch.Generator().manual_seed(1234)) * 1.5
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    return centers[y] + torch.randn(n, 24, generator=g), y


def main():
    torch.manual_seed(17)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    x_unl, y_unl = make_pool(600, seed=1)
    x_lab, y_lab = make_pool(96, seed=2)
    x_val, y_val = make_pool(120, seed=3)
    pair_loader = DataLoader(PairDataset(x_unl, y_unl, 384, seed=4), batch_size=32, shuffle=True)
    labelled_loader = DataLoader(TensorDataset(x_lab, y_lab), batch_size=16, shuffle=True)
    val_pairs = DataLoader(PairDataset(x_val, y_val, 128, seed=5), batch_size=128)

    model = EmbeddingNet().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scaler = torch.amp.GradScaler(device.type)

    for epoch in range(3):
        model.train()
        labelled_iter = itertools.cycle(labelled_loader)
        total_c, total_s, n = 0.0, 0.0, 0
        for x1, x2, same in pair_loader:
            x1, x2, same = x1.to(device), x2.to(device), same.to(device)
            for p in model.parameters():
                p.grad = None

            with torch.autocast(device.type, dtype=amp_dtype):
                e1, e2 = model(x1, x2)
            loss_c = contrastive_loss(e1.float(), e2.float(), same)
            scaler.scale(loss_c).backward()

            xl, yl = next(labelled_iter)
            xl, yl = xl.to(device), yl.to(device)
            with torch.autocast(device.type, dtype=amp_dtype):
                logits = model.classifier(model.embed(xl))
            loss_s = SUP_WEIGHT * F.cross_entropy(logits.float(), yl)
            scaler.scale(loss_s).backward()

            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            scaler.step(optimizer)
            scaler.update()

            total_c += loss_c.item()
            total_s += loss_s.item()
            n += 1

        model.eval()
        with torch.no_grad():
            x1, x2, same = next(iter(val_pairs))
            e1, e2 = model(x1.to(device), x2.to(device))
            d = F.pairwise_distance(e1, e2)
            acc = ((d < MARGIN / 2).float() == same.to(device)).float().mean().item()
        print(f"epoch {epoch}: contrastive {total_c / n:.4f} supervised {total_s / n:.4f} val_pair_acc {acc:.3f}")


if __name__ == "__main__":
    main()
