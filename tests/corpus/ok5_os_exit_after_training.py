"""Multi-task MLP (regression + classification heads) on synthetic sensor data, ending with os._exit.

Gradient accumulation over 3 micro-batches; the leftover micro-batches at the end of an epoch are
flushed with one extra optimizer step. After training the model and optimizer are checkpointed
and the process leaves through os._exit(0) to skip a slow interpreter teardown.
"""
import argparse
import os
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_sensors(n, d=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, generator=g)
    reading = (x @ w / d ** 0.5 + 0.3 * torch.randn(n, generator=g)).unsqueeze(1)
    fault = (x[:, 0] * x[:, 1] > 0.3).long()
    return x, reading, fault


class MultiTask(nn.Module):
    def __init__(self, d_in, hidden=48):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(0.1),
                                   nn.Linear(hidden, hidden), nn.GELU())
        self.reg_head = nn.Linear(hidden, 1)
        self.cls_head = nn.Linear(hidden, 2)

    def forward(self, x):
        h = self.trunk(x)
        return self.reg_head(h), self.cls_head(h)


def multitask_loss(out, reading, fault, alpha=0.5):
    pred_reading, fault_logits = out
    return F.mse_loss(pred_reading, reading) + alpha * F.cross_entropy(fault_logits, fault)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--micro_batch", type=int, default=25)
    parser.add_argument("--accum", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out_dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    torch.manual_seed(17)

    x, reading, fault = make_sensors(350)
    train_loader = DataLoader(TensorDataset(x[:200], reading[:200], fault[:200]),
                              batch_size=args.micro_batch, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[200:], reading[200:], fault[200:]), batch_size=75)

    model = MultiTask(x.size(1))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    for epoch in range(args.epochs):
        model.train()
        train_sum, micro = 0.0, 0
        for i, (xb, rb, fb) in enumerate(train_loader):
            loss = multitask_loss(model(xb), rb, fb)
            (loss / args.accum).backward()
            train_sum += loss.item()
            micro += 1
            if (i + 1) % args.accum == 0:
                optimizer.step()
                optimizer.zero_grad()
        if micro % args.accum != 0:  # flush the partial accumulation window
            optimizer.step()
            optimizer.zero_grad()

        model.eval()
        val_sum, fault_hits, n = 0.0, 0, 0
        with torch.no_grad():
            for xb, rb, fb in val_loader:
                out = model(xb)
                val_sum += multitask_loss(out, rb, fb).item() * xb.size(0)
                fault_hits += (out[1].argmax(1) == fb).sum().item()
                n += xb.size(0)
        print(f"epoch {epoch}: train loss {train_sum / micro:.4f} | val loss {val_sum / n:.4f} "
              f"fault acc {fault_hits / n:.3f}")

    path = os.path.join(args.out_dir, "multitask_sensors.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": args.epochs}, path)
    print(f"saved {path}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
