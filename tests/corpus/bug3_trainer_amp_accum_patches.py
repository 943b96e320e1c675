"""Small CNN classifying synthetic 16x16 texture patches (stripes / checkers / blobs) with a Trainer class.

Uses mixed precision (bfloat16 on CPU, float16 on CUDA), a GradScaler and gradient accumulation.
"""
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_patches(n, seed, size=16):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    freq = 0.5 + torch.rand(n, 1, 1, generator=g)
    stripes = torch.sin(freq * xx)
    checkers = torch.sin(freq * xx) * torch.sin(freq * yy)
    cx = size * torch.rand(n, 1, 1, generator=g)
    cy = size * torch.rand(n, 1, 1, generator=g)
    blobs = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 12.0)
    imgs = torch.stack([stripes, checkers, blobs])[labels, torch.arange(n)]
    imgs = imgs + 0.3 * torch.randn(n, size, size, generator=g)
    return TensorDataset(imgs.unsqueeze(1), labels)


class PatchNet(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class Trainer:
    def __init__(self, model, train_loader, val_loader, epochs=2, lr=2e-3, accum_steps=4, max_grad_norm=1.0):
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.model = model.to(self.device)
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.epochs = epochs
        self.accum_steps = accum_steps
        self.max_grad_norm = max_grad_norm
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=1e-4)
        total_updates = epochs * math.ceil(len(train_loader) / accum_steps)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=total_updates)
        self.scaler = torch.amp.GradScaler(self.device.type)
        self.history = []

    def _optimizer_step(self):
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()

    def train_epoch(self):
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        running_loss, seen_batches = 0.0, 0
        for i, (images, targets) in enumerate(self.train_loader):
            images, targets = images.to(self.device), targets.to(self.device)
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                logits = self.model(images)
                loss = self.criterion(logits, targets) / self.accum_steps
            self.scaler.scale(loss).backward()
            running_loss += loss.item()
            seen_batches += 1
            if (i + 1) % self.accum_steps == 0:
                self._optimizer_step()
        return running_loss / seen_batches

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        val_loss, correct, total = 0.0, 0, 0
        for images, targets in self.val_loader:
            images, targets = images.to(self.device), targets.to(self.device)
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                logits = self.model(images)
                loss = self.criterion(logits, targets)
            val_loss += loss.item() * targets.size(0)
            correct += (logits.argmax(dim=1) == targets).sum().item()
            total += targets.size(0)
        return val_loss / total, correct / total

    def fit(self):
        for epoch in range(1, self.epochs + 1):
            train_loss = self.train_epoch()
            val_loss, val_acc = self.validate()
            lr = self.scheduler.get_last_lr()[0]
            self.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_acc": val_acc})
            print(f"[epoch {epoch}] lr={lr:.2e} train_loss={train_loss:.4f} val_loss={val_loss:.4f} val_acc={val_acc:.3f}")
        return self.history


def main():
    torch.manual_seed(123)
    train_loader = DataLoader(make_patches(256, seed=10), batch_size=16, shuffle=True, drop_last=True)
    val_loader = DataLoader(make_patches(64, seed=11), batch_size=32)
    trainer = Trainer(PatchNet(), train_loader, val_loader, epochs=2, accum_steps=4)
    trainer.fit()


if __name__ == "__main__":
    main()
