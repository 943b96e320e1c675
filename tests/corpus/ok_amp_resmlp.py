"""Residual MLP classifier on synthetic spiral data with automatic mixed precision.

GradScaler + autocast (float16 on CUDA, bfloat16 on CPU), grad clipping and a per-batch OneCycleLR.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

EPOCHS = 3
BATCH_SIZE = 64
MAX_LR = 1e-2
CLIP = 2.0


def make_spirals(n_per_class=300, classes=3, noise=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for c in range(classes):
        r = torch.linspace(0.1, 1.0, n_per_class)
        theta = torch.linspace(c * 2 * math.pi / classes, c * 2 * math.pi / classes + 3.0, n_per_class)
        theta = theta + noise * torch.randn(n_per_class, generator=g)
        xs.append(torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1))
        ys.append(torch.full((n_per_class,), c, dtype=torch.long))
    return TensorDataset(torch.cat(xs), torch.cat(ys))


class ResBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * 2)
        self.fc2 = nn.Linear(dim * 2, dim)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(self.norm(x))))


class ResMLP(nn.Module):
    def __init__(self, in_dim=2, dim=64, depth=3, num_classes=3):
        super().__init__()
        self.stem = nn.Linear(in_dim, dim)
        self.blocks = nn.Sequential(*[ResBlock(dim) for _ in range(depth)])
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def train_epoch(model, loader, optimizer, scheduler, scaler, device, amp_dtype):
    model.train()
    total, n = 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=amp_dtype):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total += loss.item() * x.size(0)
        n += x.size(0)
    return total / n


@torch.no_grad()
def validate(model, loader, device, amp_dtype):
    model.eval()
    correct, n = 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with torch.autocast(device_type=device.type, dtype=amp_dtype):
            logits = model(x)
        correct += (logits.argmax(1) == y).sum().item()
        n += y.numel()
    return correct / n


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    dataset = make_spirals()
    train_ds, val_ds = random_split(dataset, [720, 180], generator=torch.Generator().manual_seed(1))
    train_loader = DataLoader(train_ds, batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=256)

    model = ResMLP().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=MAX_LR / 25, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=MAX_LR, epochs=EPOCHS, steps_per_epoch=len(train_loader)
    )
    scaler = torch.amp.GradScaler(device.type)

    for epoch in range(EPOCHS):
        train_loss = train_epoch(model, train_loader, optimizer, scheduler, scaler, device, amp_dtype)
        val_acc = validate(model, val_loader, device, amp_dtype)
        print(f"epoch {epoch + 1}/{EPOCHS} loss {train_loss:.4f} val_acc {val_acc:.3f} scale {scaler.get_scale():.0f}")


if __name__ == "__main__":
    main()
