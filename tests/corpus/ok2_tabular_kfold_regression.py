"""MLP regressor for a synthetic house-price-style tabular dataset, evaluated with 3-fold cross-validation.

Per fold: standardization from the training split, AdamW + ReduceLROnPlateau, best-epoch weights kept in memory.
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

SEED = 2024
N_FOLDS = 3
EPOCHS = 3
BATCH_SIZE = 32
N_FEATURES = 10


def make_housing(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, N_FEATURES, generator=g)
    x[:, 0] = x[:, 0].abs() * 50 + 40
    x[:, 1] = torch.randint(1, 6, (n,), generator=g).float()
    w = torch.randn(N_FEATURES, generator=torch.Generator().manual_seed(1))
    y = 3.0 * x[:, 0] + 20.0 * x[:, 1] + 10.0 * (x[:, 2:] @ w[2:]) + 5.0 * torch.randn(n, generator=g)
    return x, y.unsqueeze(1)


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(N_FEATURES, 64), nn.SiLU(), nn.Dropout(0.05),
            nn.Linear(64, 32), nn.SiLU(),
            nn.Linear(32, 1),
        )

    def forward(self, x):
        return self.net(x)


def standardize(train_x, other_x):
    mean, std = train_x.mean(0, keepdim=True), train_x.std(0, keepdim=True) + 1e-6
    return (train_x - mean) / std, (other_x - mean) / std


@torch.no_grad()
def evaluate(model, loader, y_mean, y_std, device):
    model.eval()
    se, n = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        pred = model(xb) * y_std + y_mean
        se += F.mse_loss(pred, yb, reduction="sum").item()
        n += yb.size(0)
    return (se / n) ** 0.5


def run_fold(fold, x, y, train_idx, val_idx, device):
    x_tr, x_va = standardize(x[train_idx], x[val_idx])
    y_tr, y_va = y[train_idx], y[val_idx]
    y_mean, y_std = y_tr.mean(), y_tr.std()
    train_loader = DataLoader(TensorDataset(x_tr, (y_tr - y_mean) / y_std), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(TensorDataset(x_va, y_va), batch_size=256)

    model = Regressor().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)

    best_val_rmse, best_state = float("inf"), None
    for epoch in range(EPOCHS):
        torch.manual_seed(SEED + 100 * fold + epoch)
        model.train()
        running, n = 0.0, 0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = F.smooth_l1_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * xb.size(0)
            n += xb.size(0)
        val_rmse = evaluate(model, val_loader, y_mean, y_std, device)
        scheduler.step(val_rmse)
        if val_rmse < best_val_rmse:
            best_val_rmse = val_rmse
            best_state = copy.deepcopy(model.state_dict())
        print(f"fold {fold} epoch {epoch + 1}/{EPOCHS} train_loss {running / n:.4f} val_rmse {val_rmse:.2f} "
              f"lr {optimizer.param_groups[0]['lr']:.1e}")
    model.load_state_dict(best_state)
    return best_val_rmse


def main():
    torch.manual_seed(SEED)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x, y = make_housing(720, seed=SEED)
    folds = torch.randperm(len(x)).chunk(N_FOLDS)
    scores = []
    for fold in range(N_FOLDS):
        val_idx = folds[fold]
        train_idx = torch.cat([f for k, f in enumerate(folds) if k != fold])
        scores.append(run_fold(fold, x, y, train_idx, val_idx, device))
    print(f"CV RMSE: {sum(scores) / len(scores):.2f} (folds: {', '.join(f'{s:.2f}' for s in scores)})")


if __name__ == "__main__":
    main()
