"""Image-like classifier (small CNN on synthetic 1x16x16 images) trained with
bf16 autocast on CPU and a GradScaler, using a "restart from best" policy: at
the scheduled restart epochs, or whenever validation loss gets worse, the model
and optimizer are reloaded from ckpt/best.pt.

The best.pt checkpoint stores the model, optimizer, epoch and validation loss
but not the GradScaler state, although the scaler is enabled and in use, so a
restart (or a resume from that file) continues with a scale factor and growth
tracker that do not belong to the restored weights.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--restart-epochs", type=int, nargs="*", default=[1, 3])
    p.add_argument("--ckpt-dir", default="ckpt")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def synthetic_images(n, n_classes, seed):
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(n_classes, 1, 16, 16, generator=torch.Generator().manual_seed(99))
    y = torch.randint(0, n_classes, (n,), generator=g)
    x = protos[y] + 0.8 * torch.randn(n, 1, 16, 16, generator=g)
    return TensorDataset(x, y)


class SmallCNN(nn.Module):
    def __init__(self, n_classes=6):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 4 * 4, n_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


def run_epoch(model, loader, optimizer, scaler, use_amp):
    model.train()
    loss_sum, n = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_amp):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += loss.item() * y.size(0)
        n += y.size(0)
    return loss_sum / n


@torch.no_grad()
def validate(model, loader, use_amp):
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for x, y in loader:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_amp):
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += y.size(0)
    return loss_sum / n, correct / n


def main():
    args = get_args()
    torch.manual_seed(args.seed)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    best_path = os.path.join(args.ckpt_dir, "best.pt")

    train_loader = DataLoader(synthetic_images(320, 6, 1), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(synthetic_images(128, 6, 2), batch_size=64)

    model = SmallCNN()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scaler = torch.amp.GradScaler("cpu", enabled=args.amp)

    best_val = float("inf")
    for epoch in range(args.epochs):
        if epoch in args.restart_epochs and os.path.exists(best_path):
            ckpt = torch.load(best_path)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            print(f"restart: reloaded best.pt from epoch {ckpt['epoch']} (val {ckpt['val_loss']:.4f})")

        train_loss = run_epoch(model, train_loader, optimizer, scaler, args.amp)
        val_loss, val_acc = validate(model, val_loader, args.amp)
        print(f"epoch {epoch}: train {train_loss:.4f} val {val_loss:.4f} acc {val_acc:.3f} "
              f"scale {scaler.get_scale():.0f}")

        if val_loss < best_val:
            best_val = val_loss
            torch.save({
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "val_loss": val_loss,
            }, best_path)
        elif os.path.exists(best_path):
            ckpt = torch.load(best_path)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            print(f"val got worse, rolled back to epoch {ckpt['epoch']}")


if __name__ == "__main__":
    main()
