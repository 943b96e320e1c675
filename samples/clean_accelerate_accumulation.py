"""A classifier trained with Hugging Face Accelerate: the model, optimizer, loaders and a cosine
schedule (sized from len(train_dl)) go through accelerator.prepare; gradient accumulation over 4
batches with accelerator.accumulate, clipping through accelerator.clip_grad_norm_, validation in
eval mode, and accelerator.save_state after every epoch (everything prepared is in it)."""
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
    accelerator = Accelerator(cpu=True, gradient_accumulation_steps=4)
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
        for x, y in train_dl:
            with accelerator.accumulate(model):
                loss = nn.functional.cross_entropy(model(x), y)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
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
