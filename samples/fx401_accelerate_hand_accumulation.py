"""A classifier trained with Hugging Face Accelerate, ported from a plain PyTorch loop that
accumulated gradients over 4 batches by hand (no accelerator.accumulate).

Bug: the port kept the hand-written step condition but replaced `(loss / 4).backward()` with
accelerator.backward(loss), which divides only by the Accelerator's own gradient_accumulation_steps
(1 here): each update is the sum of 4 batch gradients."""
import tempfile

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n: int) -> TensorDataset:
    x = torch.randn(n, 16)
    return TensorDataset(x, (x.sum(1) > 0).long())


def main() -> None:
    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True)
    train_dl = DataLoader(make_data(640), batch_size=16, shuffle=True)
    val_dl = DataLoader(make_data(128), batch_size=32)
    model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    epochs = 3
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train_dl))
    model, optimizer, train_dl, val_dl, scheduler = accelerator.prepare(model, optimizer, train_dl, val_dl, scheduler)
    out = tempfile.mkdtemp(prefix="acc-state-")
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for i, (x, y) in enumerate(train_dl):
            loss = nn.functional.cross_entropy(model(x), y)
            accelerator.backward(loss)  # expect: FX401
            if (i + 1) % 4 == 0:
                accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            total += loss.item()
        model.eval()
        with torch.no_grad():
            val = sum(nn.functional.cross_entropy(model(x), y).item() for x, y in val_dl) / len(val_dl)
        accelerator.print(f"epoch {epoch}: train {total / len(train_dl):.4f} val {val:.4f}")
        accelerator.save_state(f"{out}/epoch_{epoch}")


if __name__ == "__main__":
    main()
