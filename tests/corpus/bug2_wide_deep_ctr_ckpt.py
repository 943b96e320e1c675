"""Wide & Deep click-through-rate model on synthetic categorical + numeric features.

AdamW with StepLR; validation log-loss and a checkpoint after every epoch.
"""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
BATCH_SIZE = 32
CARDINALITIES = [12, 7, 20]
NUM_NUMERIC = 5


def make_ctr_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    cats = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDINALITIES], dim=1)
    nums = torch.randn(n, NUM_NUMERIC, generator=g)
    w_cat = [torch.randn(c, generator=torch.Generator().manual_seed(100 + i)) for i, c in enumerate(CARDINALITIES)]
    logit = sum(w[cats[:, i]] for i, w in enumerate(w_cat)) + nums[:, 0] - 0.5 * nums[:, 1] * nums[:, 2]
    clicks = (torch.rand(n, generator=g) < torch.sigmoid(logit)).float()
    return TensorDataset(cats, nums, clicks)


class WideAndDeep(nn.Module):
    def __init__(self, embed_dim=8, hidden=32):
        super().__init__()
        self.wide = nn.ModuleList([nn.Embedding(c, 1) for c in CARDINALITIES])
        self.embeddings = nn.ModuleList([nn.Embedding(c, embed_dim) for c in CARDINALITIES])
        self.deep = nn.Sequential(
            nn.Linear(embed_dim * len(CARDINALITIES) + NUM_NUMERIC, hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, cats, nums):
        wide = sum(emb(cats[:, i]) for i, emb in enumerate(self.wide))
        deep_in = torch.cat([emb(cats[:, i]) for i, emb in enumerate(self.embeddings)] + [nums], dim=1)
        return (wide + self.deep(deep_in)).squeeze(1)


def train_one_epoch(model, loader, optimizer, device):
    model.train()
    total, n = 0.0, 0
    for cats, nums, clicks in loader:
        cats, nums, clicks = cats.to(device), nums.to(device), clicks.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(cats, nums), clicks)
        loss.backward()
        optimizer.step()
        total += loss.item() * clicks.size(0)
        n += clicks.size(0)
    return total / n


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    total, n = 0.0, 0
    for cats, nums, clicks in loader:
        cats, nums, clicks = cats.to(device), nums.to(device), clicks.to(device)
        total += F.binary_cross_entropy_with_logits(model(cats, nums), clicks, reduction="sum").item()
        n += clicks.size(0)
    return total / n


def main():
    torch.manual_seed(7)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ckpt_dir = tempfile.mkdtemp(prefix="wide_deep_")

    train_loader = DataLoader(make_ctr_data(512, seed=1), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(make_ctr_data(256, seed=2), batch_size=256)

    model = WideAndDeep().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)

    for epoch in range(EPOCHS):
        train_loss = train_one_epoch(model, train_loader, optimizer, device)
        val_loss = evaluate(model, val_loader, device)
        scheduler.step()
        ckpt_path = os.path.join(ckpt_dir, f"epoch_{epoch:03d}.pt")
        torch.save({"epoch": epoch, "model_state_dict": model.state_dict(), "val_logloss": val_loss}, ckpt_path)
        print(f"epoch {epoch + 1}/{EPOCHS} train_logloss {train_loss:.4f} val_logloss {val_loss:.4f} -> {ckpt_path}")


if __name__ == "__main__":
    main()
