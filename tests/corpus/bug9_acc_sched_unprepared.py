"""Accelerate training of a tabular MLP (BatchNorm + Dropout) with OneCycleLR and per-epoch save_state.

The OneCycleLR scheduler is built after `accelerator.prepare(...)` on the prepared optimizer and
is never passed to `prepare` (nor registered with `register_for_checkpointing`). It is stepped
correctly after each optimizer step, but `accelerator.save_state` only writes the objects the
Accelerator knows about, so every checkpoint holds the model and optimizer but not the scheduler:
resuming from it would restart the one-cycle schedule from its warm-up.
"""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from accelerate import Accelerator
from accelerate.utils import set_seed

torch.set_num_threads(1)

N_FEATURES = 20
N_CLASSES = 3
EPOCHS = 3
BATCH_SIZE = 16
MAX_LR = 3e-3


class TabularNet(nn.Module):
    def __init__(self, d_in, d_hidden, n_out, p_drop=0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, d_hidden),
            nn.BatchNorm1d(d_hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(d_hidden, d_hidden),
            nn.BatchNorm1d(d_hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
        )
        self.head = nn.Linear(d_hidden, n_out)

    def forward(self, x):
        return self.head(self.net(x))


def make_data(n, gen):
    x = torch.randn(n, N_FEATURES, generator=gen)
    w = torch.randn(N_FEATURES, N_CLASSES, generator=gen)
    y = (x @ w + 0.3 * torch.randn(n, N_CLASSES, generator=gen)).argmax(dim=1)
    return TensorDataset(x, y)


def main():
    set_seed(0)
    accelerator = Accelerator(cpu=True)
    ckpt_root = tempfile.mkdtemp(prefix="tabular_ckpt_")

    gen = torch.Generator().manual_seed(0)
    full = make_data(640 + 128, gen)
    train_ds = torch.utils.data.Subset(full, range(640))
    val_ds = torch.utils.data.Subset(full, range(640, 768))
    train_loader = DataLoader(train_ds, batch_size=BATCH_SIZE, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_ds, batch_size=64)

    model = TabularNet(N_FEATURES, 64, N_CLASSES)
    optimizer = torch.optim.AdamW(model.parameters(), lr=MAX_LR / 25, weight_decay=1e-4)

    model, optimizer, train_loader, val_loader = accelerator.prepare(
        model, optimizer, train_loader, val_loader
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=MAX_LR, epochs=EPOCHS, steps_per_epoch=len(train_loader)
    )

    for epoch in range(EPOCHS):
        model.train()
        total_loss = 0.0
        for x, y in train_loader:
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            total_loss += loss.detach().item()

        model.eval()
        correct = seen = 0
        val_loss = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                logits = model(x)
                val_loss += F.cross_entropy(logits, y, reduction="sum").item()
                preds, refs = accelerator.gather_for_metrics((logits.argmax(1), y))
                correct += (preds == refs).sum().item()
                seen += refs.numel()

        accelerator.save_state(os.path.join(ckpt_root, f"epoch_{epoch}"))
        accelerator.print(
            f"epoch {epoch} lr {scheduler.get_last_lr()[0]:.2e} train {total_loss / len(train_loader):.4f} "
            f"val {val_loss / seen:.4f} acc {correct / seen:.3f}"
        )


if __name__ == "__main__":
    main()
