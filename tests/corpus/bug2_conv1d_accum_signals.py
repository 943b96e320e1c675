"""1D-CNN classifier for synthetic sensor waveforms (sine / square / sawtooth / noise) with gradient accumulation.

Micro-batches of 16 are accumulated to an effective batch of 64; SGD with Nesterov momentum.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
MICRO_BATCH = 16
ACCUM_STEPS = 4
SIG_LEN = 64


def make_waveforms(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    freq = 1.0 + 3.0 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    t = torch.linspace(0, 1, SIG_LEN).unsqueeze(0)
    arg = 2 * math.pi * freq * t + phase
    waves = torch.stack([torch.sin(arg), torch.sign(torch.sin(arg)), 2 * ((arg / (2 * math.pi)) % 1) - 1,
                         torch.randn(n, SIG_LEN, generator=g) * 0.7])
    x = waves[y, torch.arange(n)] + 0.2 * torch.randn(n, SIG_LEN, generator=g)
    return TensorDataset(x.unsqueeze(1), y)


class WaveNet1D(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(8, 16, 5, padding=2), nn.ReLU(), nn.AdaptiveMaxPool1d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.head(self.body(x))


def train_one_epoch(model, loader, optimizer, device):
    model.train()
    optimizer.zero_grad()
    running, seen = 0.0, 0
    for i, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        (loss / ACCUM_STEPS).backward()
        if (i + 1) % ACCUM_STEPS == 0:
            nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
            optimizer.zero_grad()
        running += loss.item() * x.size(0)
        seen += x.size(0)
    return running / seen


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    correct, seen = 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        correct += (model(x).argmax(1) == y).sum().item()
        seen += y.numel()
    return correct / seen


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(make_waveforms(288, seed=1), batch_size=MICRO_BATCH, shuffle=True)
    val_loader = DataLoader(make_waveforms(96, seed=2), batch_size=96)

    model = WaveNet1D().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    print(f"{len(train_loader)} micro-batches per epoch, effective batch {MICRO_BATCH * ACCUM_STEPS}")

    for epoch in range(EPOCHS):
        train_loss = train_one_epoch(model, train_loader, optimizer, device)
        val_acc = evaluate(model, val_loader, device)
        print(f"epoch {epoch + 1}/{EPOCHS} train_loss {train_loss:.4f} val_acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
