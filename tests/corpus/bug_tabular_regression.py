"""MLP regression on a synthetic "house price" tabular dataset (8 numeric + 1 categorical feature).

Features are standardized with train statistics; the target is log-price.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_housing(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    numeric = torch.randn(n, 8, generator=g)
    region = torch.randint(0, 5, (n,), generator=g)
    coef = torch.tensor([0.8, -0.3, 0.5, 0.0, 0.2, -0.6, 0.1, 0.4])
    region_effect = torch.tensor([0.0, 0.3, -0.2, 0.5, 0.1])
    log_price = 12.0 + numeric @ coef + region_effect[region] + 0.1 * torch.randn(n, generator=g)
    return numeric, region, log_price


class TabularMLP(nn.Module):
    def __init__(self, n_numeric=8, n_regions=5, emb_dim=3, hidden=64):
        super().__init__()
        self.region_emb = nn.Embedding(n_regions, emb_dim)
        self.net = nn.Sequential(
            nn.Linear(n_numeric + emb_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, numeric, region):
        x = torch.cat([numeric, self.region_emb(region)], dim=1)
        return self.net(x).squeeze(1)


def main():
    torch.manual_seed(0)
    num, reg, y = make_housing(800, seed=1)
    n_train = 640
    mu, sd = num[:n_train].mean(0), num[:n_train].std(0)
    num = (num - mu) / sd
    y_mean, y_std = y[:n_train].mean(), y[:n_train].std()
    y_norm = (y - y_mean) / y_std

    train_ds = TensorDataset(num[:n_train], reg[:n_train], y_norm[:n_train])
    valid_ds = TensorDataset(num[n_train:], reg[n_train:], y_norm[n_train:])
    train_dl = DataLoader(train_ds, batch_size=64, shuffle=True)
    valid_dl = DataLoader(valid_ds, batch_size=160)

    model = TabularMLP()
    loss_func = nn.MSELoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)

    epochs = 3
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        train_loss = 0.0
        for xb_num, xb_reg, yb in train_dl:
            pred = model(xb_num, xb_reg)
            loss = loss_func(pred, yb)
            loss.backward()
            opt.step()
            train_loss += loss.item() * len(yb)

        model.eval()
        with torch.no_grad():
            valid_loss = sum(loss_func(model(a, b), c) * len(c) for a, b, c in valid_dl) / len(valid_ds)
            preds = torch.cat([model(a, b) for a, b, _ in valid_dl]) * y_std + y_mean
            rmse = torch.sqrt(((preds - y[n_train:]) ** 2).mean())
        print(
            f"epoch {epoch}  train_mse {train_loss / len(train_ds):.4f}  "
            f"valid_mse {valid_loss.item():.4f}  rmse(log-price) {rmse.item():.4f}"
        )


if __name__ == "__main__":
    main()
