"""GRU regressor for the "running mean of a noisy sequence" task, trained with a small Trainer class.

Callbacks grow the sequence length each epoch (curriculum) and log train/validation MSE.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

EPOCHS = 3
BATCH_SIZE = 32
MAX_LEN = 24


class PrefixMeanDataset(Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.values = torch.randn(n, MAX_LEN, 1, generator=g)
        self.seq_len = MAX_LEN

    def set_seq_len(self, seq_len):
        self.seq_len = seq_len

    def __len__(self):
        return self.values.size(0)

    def __getitem__(self, idx):
        x = self.values[idx, : self.seq_len]
        return x, x.mean(dim=0)


class GRURegressor(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        _, h = self.gru(x)
        return self.out(h[-1])


class Callback:
    def on_epoch_start(self, trainer, epoch):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass


class SeqLenCurriculum(Callback):
    def __init__(self, schedule):
        self.schedule = schedule

    def on_epoch_start(self, trainer, epoch):
        seq_len = self.schedule[min(epoch, len(self.schedule) - 1)]
        trainer.train_set.set_seq_len(seq_len)
        trainer.val_set.set_seq_len(seq_len)
        trainer.optimizer.state.clear()


class PrintLogger(Callback):
    def on_epoch_end(self, trainer, epoch, logs):
        print(f"epoch {epoch + 1} seq_len {trainer.train_set.seq_len} "
              f"train_mse {logs['train_mse']:.4f} val_mse {logs['val_mse']:.4f}")


class Trainer:
    def __init__(self, model, optimizer, train_set, val_set, callbacks=(), device="cpu"):
        self.model = model
        self.optimizer = optimizer
        self.train_set = train_set
        self.val_set = val_set
        self.callbacks = list(callbacks)
        self.device = device
        self.train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
        self.val_loader = DataLoader(val_set, batch_size=128)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def train_epoch(self):
        self.model.train()
        total, n = 0.0, 0
        for x, y in self.train_loader:
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.mse_loss(self.model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            total += loss.item() * x.size(0)
            n += x.size(0)
        return total / n

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        total, n = 0.0, 0
        for x, y in self.val_loader:
            x, y = x.to(self.device), y.to(self.device)
            total += F.mse_loss(self.model(x), y, reduction="sum").item()
            n += y.numel()
        return total / n

    def fit(self, epochs):
        for epoch in range(epochs):
            self._call("on_epoch_start", epoch)
            logs = {"train_mse": self.train_epoch(), "val_mse": self.validate()}
            self._call("on_epoch_end", epoch, logs)


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_set = PrefixMeanDataset(512, seed=1)
    val_set = PrefixMeanDataset(128, seed=2)
    model = GRURegressor().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    trainer = Trainer(
        model,
        optimizer,
        train_set,
        val_set,
        callbacks=[SeqLenCurriculum([8, 16, 24]), PrintLogger()],
        device=device,
    )
    trainer.fit(EPOCHS)


if __name__ == "__main__":
    main()
