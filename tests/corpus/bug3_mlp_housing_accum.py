"""MLP regressor for a synthetic house-price table (8 numeric features) trained with Adam.

Micro-batches of 16 are accumulated over 4 steps before each update.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 2
MICRO_BATCH = 16
ACCUM_STEPS = 4
N_FEATURES = 8


def make_housing(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, N_FEATURES, generator=g)
    w = torch.linspace(-1.0, 1.5, N_FEATURES)
    y = x @ w + 0.5 * torch.sin(2 * x[:, 0]) * x[:, 1] + 0.1 * torch.randn(n, generator=g)
    return TensorDataset(x, y.unsqueeze(1))


def build_model():
    return nn.Sequential(
        nn.Linear(N_FEATURES, 64), nn.ReLU(),
        nn.Linear(64, 32), nn.ReLU(),
        nn.Linear(32, 1),
    )


def train_one_epoch(model, loader, criterion, optimizer, device, accum_steps=ACCUM_STEPS):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    running_loss, n_batches = 0.0, 0
    for step, (xb, yb) in enumerate(loader):
        xb, yb = xb.to(device), yb.to(device)
        loss = criterion(model(xb), yb) / accum_steps
        loss.backward()
        running_loss += loss.item()
        n_batches += 1
        if (step + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return running_loss / n_batches


@torch.no_grad()
def evaluate(model, loader, criterion, device):
    model.eval()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        total += criterion(model(xb), yb).item() * xb.size(0)
        count += xb.size(0)
    return total / count


def main():
    torch.manual_seed(7)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(make_housing(256, seed=1), batch_size=MICRO_BATCH, shuffle=True)
    val_loader = DataLoader(make_housing(64, seed=2), batch_size=32)

    model = build_model().to(device)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    for epoch in range(1, EPOCHS + 1):
        train_loss = train_one_epoch(model, train_loader, criterion, optimizer, device)
        val_loss = evaluate(model, val_loader, criterion, device)
        print(f"epoch {epoch}: train_mse={train_loss:.4f} val_mse={val_loss:.4f}")


if __name__ == "__main__":
    main()
