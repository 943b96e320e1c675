"""Train a small MLP classifier on synthetic 4-class data with a callback-driven Trainer.

Uses Adam + StepLR; validation accuracy is reported by a callback at the end of each epoch.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Callback:
    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_batch_end(self, trainer, batch_idx, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass


class LRSchedulerCallback(Callback):
    def __init__(self, scheduler):
        self.scheduler = scheduler

    def on_epoch_end(self, trainer, epoch, logs):
        self.scheduler.step()
        logs["lr"] = self.scheduler.get_last_lr()[0]


class ProgressLogger(Callback):
    def __init__(self, every=5):
        self.every = every
        self.t0 = None

    def on_epoch_begin(self, trainer, epoch):
        self.t0 = time.perf_counter()

    def on_batch_end(self, trainer, batch_idx, logs):
        if batch_idx % self.every == 0:
            print(f"  batch {batch_idx:3d} loss {logs['loss']:.4f}")

    def on_epoch_end(self, trainer, epoch, logs):
        dt = time.perf_counter() - self.t0
        print(
            f"epoch {epoch} train_loss {logs['train_loss']:.4f} "
            f"val_acc {logs.get('val_acc', float('nan')):.3f} lr {logs.get('lr', 0):.2e} ({dt:.2f}s)"
        )


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader=None, callbacks=None, device="cpu"):
        self.model = model.to(device)
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.callbacks = callbacks or []
        self.device = device

    def _fire(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def train_step(self, batch):
        x, y = (t.to(self.device) for t in batch)
        self.optimizer.zero_grad()
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        correct, total = 0, 0
        for x, y in self.val_loader:
            x, y = x.to(self.device), y.to(self.device)
            pred = self.model(x).argmax(dim=1)
            correct += (pred == y).sum().item()
            total += y.numel()
        return correct / max(total, 1)

    def fit(self, epochs):
        self._fire("on_train_begin")
        for epoch in range(epochs):
            self._fire("on_epoch_begin", epoch)
            self.model.train()
            running, n = 0.0, 0
            for batch_idx, batch in enumerate(self.train_loader):
                loss = self.train_step(batch)
                running += loss
                n += 1
                self._fire("on_batch_end", batch_idx, {"loss": loss})
            logs = {"train_loss": running / n}
            if self.val_loader is not None:
                logs["val_acc"] = self.validate()
            self._fire("on_epoch_end", epoch, logs)


def make_data(n, centers, seed=0):
    g = torch.Generator().manual_seed(seed)
    classes, dim = centers.shape
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, dim, generator=g)
    return TensorDataset(x, y)


def main():
    torch.manual_seed(0)
    centers = torch.randn(4, 20) * 2.0
    train_ds = make_data(512, centers, seed=1)
    val_ds = make_data(128, centers, seed=2)
    train_loader = DataLoader(train_ds, batch_size=32, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=64)

    model = nn.Sequential(
        nn.Linear(20, 64),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(64, 4),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

    trainer = Trainer(
        model,
        optimizer,
        train_loader,
        val_loader,
        callbacks=[LRSchedulerCallback(scheduler), ProgressLogger(every=8)],
    )
    trainer.fit(epochs=3)


if __name__ == "__main__":
    main()
