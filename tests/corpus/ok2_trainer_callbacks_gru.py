"""GRU classifier that tells rising from falling noisy trends, trained by a Keras-like Trainer with callbacks.

Callbacks: metric logging every N global steps, early stopping on val loss, and a checkpoint callback.
"""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
BATCH_SIZE = 32
SEQ_LEN = 20


def make_trends(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    slope = (y.float() - 1.0).unsqueeze(1) * 0.08
    t = torch.arange(SEQ_LEN).float().unsqueeze(0)
    x = slope * t + 0.4 * torch.randn(n, SEQ_LEN, generator=g)
    return TensorDataset(x.unsqueeze(-1), y)


class TrendGRU(nn.Module):
    def __init__(self, hidden=24):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 3)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])


class Callback:
    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, loss):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass


class StepLogger(Callback):
    def __init__(self, every):
        self.every = every

    def on_batch_end(self, trainer, loss):
        if trainer.global_step % self.every == 0:
            print(f"  step {trainer.global_step:4d} loss {loss:.4f} lr {trainer.scheduler.get_last_lr()[0]:.2e}")


class EarlyStopping(Callback):
    def __init__(self, patience=2, min_delta=1e-4):
        self.patience = patience
        self.min_delta = min_delta

    def on_train_begin(self, trainer):
        self.best_val_loss = float("inf")
        self.bad_epochs = 0

    def on_epoch_end(self, trainer, epoch, logs):
        if logs["val_loss"] < self.best_val_loss - self.min_delta:
            self.best_val_loss = logs["val_loss"]
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.stop_training = True


class ModelCheckpoint(Callback):
    def __init__(self, dirpath):
        self.dirpath = dirpath
        self.best_val_loss = float("inf")

    def on_epoch_end(self, trainer, epoch, logs):
        torch.save(
            {
                "epoch": epoch,
                "global_step": trainer.global_step,
                "model": trainer.model.state_dict(),
                "optimizer": trainer.optimizer.state_dict(),
                "scheduler": trainer.scheduler.state_dict(),
            },
            os.path.join(self.dirpath, "last.pt"),
        )
        if logs["val_loss"] < self.best_val_loss:
            self.best_val_loss = logs["val_loss"]
            torch.save(trainer.model.state_dict(), os.path.join(self.dirpath, "best.pt"))


class Trainer:
    def __init__(self, model, train_loader, val_loader, epochs, callbacks, device):
        self.model = model.to(device)
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.epochs = epochs
        self.callbacks = callbacks
        self.device = device
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=1e-2, epochs=epochs, steps_per_epoch=len(train_loader)
        )
        self.global_step = 0
        self.stop_training = False

    def fit(self):
        for cb in self.callbacks:
            cb.on_train_begin(self)
        for epoch in range(self.epochs):
            self.model.train()
            epoch_loss, n = 0.0, 0
            for x, y in self.train_loader:
                x, y = x.to(self.device), y.to(self.device)
                self.optimizer.zero_grad()
                loss = F.cross_entropy(self.model(x), y)
                loss.backward()
                self.optimizer.step()
                self.scheduler.step()
                self.global_step += 1
                epoch_loss += loss.item() * y.size(0)
                n += y.size(0)
                for cb in self.callbacks:
                    cb.on_batch_end(self, loss.item())
            logs = {"loss": epoch_loss / n, **self.validate()}
            print(f"epoch {epoch + 1}/{self.epochs} step {self.global_step} "
                  f"loss {logs['loss']:.4f} val_loss {logs['val_loss']:.4f} val_acc {logs['val_acc']:.3f}")
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, logs)
            if self.stop_training:
                break

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        total, correct, n = 0.0, 0, 0
        for x, y in self.val_loader:
            x, y = x.to(self.device), y.to(self.device)
            logits = self.model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            n += y.size(0)
        return {"val_loss": total / n, "val_acc": correct / n}


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(make_trends(480, seed=1), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(make_trends(160, seed=2), batch_size=160)
    run_dir = tempfile.mkdtemp(prefix="trend_gru_")
    callbacks = [StepLogger(every=10), EarlyStopping(patience=2), ModelCheckpoint(run_dir)]
    Trainer(TrendGRU(), train_loader, val_loader, EPOCHS, callbacks, device).fit()
    print("checkpoints:", sorted(os.listdir(run_dir)))


if __name__ == "__main__":
    main()
