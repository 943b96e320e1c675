"""Tiny transformer sequence classifier trained with a hand-rolled SGD + decoupled weight decay.

There is no torch.optim optimizer: parameters are split by name into a "decay" list (``*.weight``)
and a "no_decay" list (``*.bias``) and updated inside ``torch.no_grad()``. The task is to decide
whether a synthetic token sequence contains the motif 3-1-4 in order (position matters), read from a
learned CLS slot.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_data(n, seq_len, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(5, vocab, (n, seq_len), generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    for i in range(n):
        if y[i] == 1:
            start = torch.randint(0, seq_len - 3, (1,), generator=g).item()
            x[i, start:start + 3] = torch.tensor([3, 1, 4])
    return x, y


class MotifTransformer(nn.Module):
    def __init__(self, vocab, seq_len, d_model=32, nhead=4, nlayers=2, dropout=0.1):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos = nn.Parameter(0.02 * torch.randn(1, seq_len + 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, dropout=dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 2)

    def forward(self, x):
        h = self.tok(x)
        h = torch.cat([self.cls.expand(x.size(0), -1, -1), h], dim=1) + self.pos
        h = self.encoder(h)
        return self.head(self.norm(h[:, 0]))


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for x, y in loader:
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += y.numel()
    return loss_sum / n, correct / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--weight_decay", type=float, default=1e-4)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--seq_len", type=int, default=12)
    p.add_argument("--vocab", type=int, default=20)
    args = p.parse_args()
    torch.manual_seed(0)

    xtr, ytr = make_data(320, args.seq_len, args.vocab, seed=1)
    xva, yva = make_data(96, args.seq_len, args.vocab, seed=2)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=48)

    model = MotifTransformer(args.vocab, args.seq_len)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
    print(f"decay tensors: {len(decay)}  no-decay tensors: {len(no_decay)}")

    for epoch in range(args.epochs):
        model.train()
        running, seen = 0.0, 0
        for x, y in train_loader:
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            with torch.no_grad():
                for p in decay:
                    p.mul_(1 - args.lr * args.weight_decay)
                    p -= args.lr * p.grad
                for p in no_decay:
                    p -= args.lr * p.grad
            model.zero_grad(set_to_none=True)
            running += loss.item() * y.numel()
            seen += y.numel()
        val_loss, val_acc = evaluate(model, val_loader)
        print(f"epoch {epoch}: train loss {running / seen:.4f}  val loss {val_loss:.4f}  val acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
