"""Small CNN on synthetic 8x8 glyphs with mixed precision and gradient accumulation (effective batch 64).

Device-agnostic AMP (float16 on CUDA, bfloat16 on CPU); full last.pt each epoch plus a weights-only best.pt.
"""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
MICRO_BATCH = 16
ACCUM_STEPS = 4
NUM_CLASSES = 5


def make_glyphs(n, seed):
    g = torch.Generator().manual_seed(seed)
    templates = (torch.rand(NUM_CLASSES, 1, 8, 8, generator=torch.Generator().manual_seed(99)) > 0.6).float()
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    x = templates[y] + 0.5 * torch.randn(n, 1, 8, 8, generator=g)
    return TensorDataset(x, y)


class GlyphCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 4 * 4, NUM_CLASSES)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.flatten(1))


def train_one_epoch(model, loader, optimizer, scheduler, scaler, device, amp_dtype):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    total, n = 0.0, 0
    for i, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        with torch.autocast(device_type=device.type, dtype=amp_dtype):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss / ACCUM_STEPS).backward()
        if (i + 1) % ACCUM_STEPS == 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
        total += loss.item() * y.size(0)
        n += y.size(0)
    return total / n


@torch.no_grad()
def evaluate(model, loader, device, amp_dtype):
    model.eval()
    total, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with torch.autocast(device_type=device.type, dtype=amp_dtype):
            logits = model(x)
        total += F.cross_entropy(logits.float(), y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += y.size(0)
    return total / n, correct / n


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    out_dir = tempfile.mkdtemp(prefix="glyph_cnn_")

    train_loader = DataLoader(make_glyphs(256, seed=1), batch_size=MICRO_BATCH, shuffle=True, drop_last=True)
    val_loader = DataLoader(make_glyphs(128, seed=2), batch_size=128)

    model = GlyphCNN().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    updates_per_epoch = len(train_loader) // ACCUM_STEPS
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS * updates_per_epoch)
    scaler = torch.amp.GradScaler(device.type)

    best_val_loss = float("inf")
    for epoch in range(EPOCHS):
        train_loss = train_one_epoch(model, train_loader, optimizer, scheduler, scaler, device, amp_dtype)
        val_loss, val_acc = evaluate(model, val_loader, device, amp_dtype)
        torch.save(
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "best_val_loss": min(best_val_loss, val_loss),
            },
            os.path.join(out_dir, "last.pt"),
        )
        if val_loss < best_val_loss:
            best_val_loss = val_loss
            torch.save(model.state_dict(), os.path.join(out_dir, "best.pt"))
        print(f"epoch {epoch + 1}/{EPOCHS} train_loss {train_loss:.4f} val_loss {val_loss:.4f} "
              f"val_acc {val_acc:.3f} best {best_val_loss:.4f}")


if __name__ == "__main__":
    main()
