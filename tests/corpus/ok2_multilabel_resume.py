"""Multi-label MLP tagger on synthetic feature vectors, written to survive preemption.

The job saves a full checkpoint every epoch; the run is interrupted after one epoch and a second job resumes it.
"""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

TOTAL_EPOCHS = 3
BATCH_SIZE = 32
IN_DIM = 20
NUM_TAGS = 6


def make_tagged(n, seed):
    g = torch.Generator().manual_seed(seed)
    proj = torch.randn(IN_DIM, NUM_TAGS, generator=torch.Generator().manual_seed(5))
    x = torch.randn(n, IN_DIM, generator=g)
    y = ((x @ proj) + 0.5 * torch.randn(n, NUM_TAGS, generator=g) > 0.8).float()
    return TensorDataset(x, y)


def build_model():
    return nn.Sequential(nn.Linear(IN_DIM, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, NUM_TAGS))


def train_one_epoch(model, loader, optimizer, device):
    model.train()
    total, n = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * x.size(0)
        n += x.size(0)
    return total / n


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    tp = fp = fn = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        pred = (model(x) > 0).float()
        tp += (pred * y).sum().item()
        fp += (pred * (1 - y)).sum().item()
        fn += ((1 - pred) * y).sum().item()
    return 2 * tp / max(2 * tp + fp + fn, 1)


def run_job(ckpt_path, stop_after=None):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    train_loader = DataLoader(make_tagged(544, seed=1), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(make_tagged(128, seed=2), batch_size=128)

    model = build_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[1, 2], gamma=0.3)

    start_epoch, best_f1 = 0, 0.0
    if os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng_state"])
        start_epoch, best_f1 = ckpt["epoch"] + 1, ckpt["best_f1"]
        print(f"resumed from epoch {ckpt['epoch'] + 1}, lr {optimizer.param_groups[0]['lr']:.4f}")

    for epoch in range(start_epoch, TOTAL_EPOCHS):
        train_loss = train_one_epoch(model, train_loader, optimizer, device)
        f1 = evaluate(model, val_loader, device)
        scheduler.step()
        best_f1 = max(best_f1, f1)
        torch.save(
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng_state": torch.get_rng_state(),
                "best_f1": best_f1,
            },
            ckpt_path,
        )
        print(f"epoch {epoch + 1}/{TOTAL_EPOCHS} loss {train_loss:.4f} val_f1 {f1:.3f} "
              f"next_lr {optimizer.param_groups[0]['lr']:.4f}")
        if stop_after is not None and epoch + 1 >= stop_after:
            print("job preempted")
            return


def main():
    ckpt_path = os.path.join(tempfile.mkdtemp(prefix="multilabel_"), "last.pt")
    run_job(ckpt_path, stop_after=1)
    run_job(ckpt_path)


if __name__ == "__main__":
    main()
