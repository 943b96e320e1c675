"""BatchNorm MLP on a synthetic 3-class tabular problem, with "precise BN" and capped validation.

After each epoch the BatchNorm statistics are recomputed on a few training batches (precise BN),
then validation runs on at most --limit_val_batches batches of the validation loader, the way
Lightning's limit_val_batches caps it.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_tabular(n, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = 1.5 * torch.randn(3, d, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    x[:, :4] = x[:, :4] * 10 + 5  # a few badly scaled raw features
    return x, y


class TabularNet(nn.Module):
    def __init__(self, d_in, hidden=64, n_classes=3, p_drop=0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x):
        return self.net(x)


@torch.no_grad()
def recalibrate_bn(model, loader, num_batches):
    """Precise BN: replace the EMA running stats with an exact average over num_batches batches."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    for i, (x, _) in enumerate(loader):
        if i >= num_batches:
            break
        model(x)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    model.train()


def validate(model, loader, limit_batches):
    loss_sum, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for batch_idx, (x, y) in enumerate(loader):
            if batch_idx >= limit_batches:
                break
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += y.numel()
    return loss_sum / seen, correct / seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--limit_val_batches", type=int, default=4)
    parser.add_argument("--precise_bn_batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    x, y = make_tabular(640, seed=args.seed)
    train_ds = TensorDataset(x[:256], y[:256])
    val_ds = TensorDataset(x[256:], y[256:])
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=args.batch_size, shuffle=False)

    model = TabularNet(x.size(1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)

    for epoch in range(args.epochs):
        model.train()
        running, n_batches = 0.0, 0
        for x_b, y_b in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x_b), y_b)
            loss.backward()
            optimizer.step()
            running += loss.item()
            n_batches += 1

        model.eval()
        recalibrate_bn(model, train_loader, args.precise_bn_batches)
        val_loss, val_acc = validate(model, val_loader, args.limit_val_batches)
        print(f"epoch {epoch}: train {running / n_batches:.4f} | val {val_loss:.4f} acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
