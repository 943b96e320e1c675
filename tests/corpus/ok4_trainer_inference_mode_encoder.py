"""Transformer-style (LayerNorm + dropout) sequence classifier with a Trainer class.

Task: decide whether a noisy real-valued sequence contains an upward step, a
downward step or no step. Validation runs under torch.inference_mode; an extra
pass reports Monte-Carlo dropout uncertainty from the classification head.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_step_sequences(n, length=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    where = torch.randint(4, length - 4, (n,), generator=g)
    height = 0.8 + 0.4 * torch.rand(n, generator=g)
    sign = torch.tensor([0.0, 1.0, -1.0])[labels]
    steps = (torch.arange(length)[None, :] >= where[:, None]).float()
    x = sign[:, None] * height[:, None] * steps + 0.4 * torch.randn(n, length, generator=g)
    return x.unsqueeze(-1), labels


class Block(nn.Module):
    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        return x + self.mlp(self.ln2(x))


class SequenceEncoder(nn.Module):
    def __init__(self, dim=32, heads=4, depth=2, length=32, num_classes=3, dropout=0.1, head_dropout=0.2):
        super().__init__()
        self.inp = nn.Linear(1, dim)
        self.pos = nn.Parameter(torch.zeros(1, length, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, dropout) for _ in range(depth)])
        self.ln_f = nn.LayerNorm(dim)
        self.head_dropout = head_dropout
        self.head = nn.Linear(dim, num_classes)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, x, mc_dropout=False):
        h = self.inp(x) + self.pos[:, : x.size(1)]
        for block in self.blocks:
            h = block(h)
        h = self.ln_f(h).mean(dim=1)
        h = F.dropout(h, p=self.head_dropout, training=self.training or mc_dropout)
        return self.head(h)


class Trainer:
    def __init__(self, model, optimizer, scheduler, train_loader, val_loader, grad_clip=1.0):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.grad_clip = grad_clip

    def train_epoch(self):
        self.model.train()
        total = 0.0
        for x, y in self.train_loader:
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            total += loss.item()
        return total / len(self.train_loader)

    def validate(self):
        self.model.eval()
        correct, n, loss_sum = 0, 0, 0.0
        with torch.inference_mode():
            for x, y in self.val_loader:
                logits = self.model(x)
                loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
                correct += (logits.argmax(-1) == y).sum().item()
                n += y.numel()
        return loss_sum / n, correct / n

    def mc_uncertainty(self, passes=5):
        self.model.eval()
        entropies = []
        with torch.inference_mode():
            for x, _ in self.val_loader:
                probs = torch.stack(
                    [F.softmax(self.model(x, mc_dropout=True), dim=-1) for _ in range(passes)]
                ).mean(0)
                entropies.append(-(probs * probs.clamp_min(1e-8).log()).sum(-1))
        return torch.cat(entropies).mean().item()

    def fit(self, epochs):
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            train_loss = self.train_epoch()
            val_loss, val_acc = self.validate()
            entropy = self.mc_uncertainty()
            print(
                f"epoch {epoch} train {train_loss:.4f} val {val_loss:.4f} acc {val_acc:.3f} "
                f"mc-entropy {entropy:.3f} ({time.perf_counter() - t0:.1f}s)"
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()

    torch.manual_seed(5)
    train_loader = DataLoader(TensorDataset(*make_step_sequences(480, seed=1)), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(*make_step_sequences(120, seed=2)), batch_size=40)

    model = SequenceEncoder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * len(train_loader), pct_start=0.2
    )
    Trainer(model, optimizer, scheduler, train_loader, val_loader).fit(args.epochs)


if __name__ == "__main__":
    main()
