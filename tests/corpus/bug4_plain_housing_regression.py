# Housing-price style regression on synthetic features: MLP + dropout,
# Adam, ReduceLROnPlateau on validation MAE.
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

np.random.seed(args.seed)
torch.manual_seed(args.seed)

n_samples, n_features = 1000, 8
rng = np.random.default_rng(args.seed)
X = rng.normal(size=(n_samples, n_features)).astype(np.float32)
rooms, age, dist = X[:, 0], X[:, 1], X[:, 2]
y = 3.0 + 1.5 * rooms - 0.7 * age + 0.4 * np.exp(-np.abs(dist)) + 0.2 * rooms * age
y = (y + 0.3 * rng.normal(size=n_samples)).astype(np.float32)

perm = rng.permutation(n_samples)
train_idx, val_idx = perm[:800], perm[800:]
x_mean, x_std = X[train_idx].mean(0), X[train_idx].std(0)
y_mean, y_std = y[train_idx].mean(), y[train_idx].std()
Xn = (X - x_mean) / x_std
yn = (y - y_mean) / y_std

train_ds = TensorDataset(torch.from_numpy(Xn[train_idx]), torch.from_numpy(yn[train_idx]).unsqueeze(1))
val_ds = TensorDataset(torch.from_numpy(Xn[val_idx]), torch.from_numpy(yn[val_idx]).unsqueeze(1))
train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
val_loader = DataLoader(val_ds, batch_size=50)

model = nn.Sequential(
    nn.Linear(n_features, 128),
    nn.ReLU(),
    nn.Dropout(0.2),
    nn.Linear(128, 64),
    nn.ReLU(),
    nn.Dropout(0.1),
    nn.Linear(64, 1),
)
loss_fn = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)

for epoch in range(args.epochs):
    model.train()
    train_loss = 0.0
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * xb.size(0)
    train_loss /= len(train_ds)

    model.eval()
    val_loss, val_mae = 0.0, 0.0
    for xb, yb in val_loader:
        pred = model(xb)
        val_loss += loss_fn(pred, yb).item() * xb.size(0)
        val_mae += (pred - yb).abs().sum().item() * y_std
    val_loss /= len(val_ds)
    val_mae /= len(val_ds)
    scheduler.step(val_mae)

    print(
        f"Epoch {epoch + 1}/{args.epochs} - loss: {train_loss:.4f} - val_loss: {val_loss:.4f} "
        f"- val_mae: {val_mae:.3f} - lr: {optimizer.param_groups[0]['lr']:.1e}"
    )
