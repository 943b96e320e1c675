"""GRU sequence-to-one forecaster for noisy multi-sine time series (predict the next value).

Sliding windows over a synthetic signal; Adam with gradient-norm clipping.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

WINDOW = 24
HIDDEN = 32
CLIP_NORM = 0.25
LOG_INTERVAL = 5


class WindowDataset(Dataset):
    def __init__(self, series, window):
        self.series = series
        self.window = window

    def __len__(self):
        return self.series.size(0) - self.window

    def __getitem__(self, i):
        x = self.series[i : i + self.window]
        y = self.series[i + self.window, 0]
        return x, y


def make_series(n_steps, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n_steps, dtype=torch.float32)
    signal = torch.sin(0.07 * t) + 0.5 * torch.sin(0.23 * t + 1.0) + 0.1 * torch.randn(n_steps, generator=g)
    covariate = torch.cos(0.07 * t)
    return torch.stack([signal, covariate], dim=1)


class GRUForecaster(nn.Module):
    def __init__(self, n_features=2, hidden=HIDDEN, num_layers=2):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden, num_layers=num_layers, batch_first=True, dropout=0.1)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1]).squeeze(-1)


def run_training(model, train_loader, val_loader, epochs, lr=3e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.SmoothL1Loss()
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for i, (x, y) in enumerate(train_loader):
            optimizer.zero_grad()
            pred = model(x)
            loss = criterion(pred, y)
            loss.backward()
            optimizer.step()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            total += loss.item()
            if i % LOG_INTERVAL == 0:
                print(f"| epoch {epoch} | batch {i:3d}/{len(train_loader)} | loss {loss.item():.4f} | gnorm {grad_norm:.3f}")

        model.eval()
        val_total, val_batches = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                val_total += criterion(model(x), y).item()
                val_batches += 1
        print(f"| end of epoch {epoch} | train loss {total / len(train_loader):.4f} | valid loss {val_total / val_batches:.4f}")


def main():
    torch.manual_seed(7)
    series = make_series(520, seed=0)
    mean, std = series[:400].mean(0), series[:400].std(0)
    series = (series - mean) / std
    train_ds = WindowDataset(series[:400], WINDOW)
    val_ds = WindowDataset(series[400:], WINDOW)
    train_loader = DataLoader(train_ds, batch_size=32, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_ds, batch_size=64)

    model = GRUForecaster()
    run_training(model, train_loader, val_loader, epochs=3)


if __name__ == "__main__":
    main()
