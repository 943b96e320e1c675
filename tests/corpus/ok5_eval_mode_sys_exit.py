"""Train-or-evaluate script for a small transformer encoder that tags synthetic sequences.

--mode defaults to "eval": the script builds the model (loading --checkpoint when given),
reports token accuracy and a latency figure on the test split, and exits. Training only runs
with --mode train.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_tagging_data(n, seq_len=16, vocab=30, seed=0):
    """Tag 1 marks tokens that are strictly larger than both neighbours (a local maximum)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, vocab, (n, seq_len), generator=g)
    left = torch.cat([torch.zeros(n, 1, dtype=torch.long), x[:, :-1]], 1)
    right = torch.cat([x[:, 1:], torch.zeros(n, 1, dtype=torch.long)], 1)
    tags = ((x > left) & (x > right)).long()
    return x, tags


class Tagger(nn.Module):
    def __init__(self, vocab=30, d=32, heads=4, layers=2, seq_len=16):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, seq_len, d))
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2)

    def forward(self, x):
        return self.head(self.encoder(self.tok(x) + self.pos))


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct, total = 0, 0
    start = time.perf_counter()
    for x, tags in loader:
        pred = model(x).argmax(-1)
        correct += (pred == tags).sum().item()
        total += tags.numel()
    elapsed = time.perf_counter() - start
    return correct / total, elapsed / len(loader)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["train", "eval"], default="eval")
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.manual_seed(0)

    x, tags = make_tagging_data(480)
    train_loader = DataLoader(TensorDataset(x[:320], tags[:320]), batch_size=32, shuffle=True)
    test_loader = DataLoader(TensorDataset(x[320:], tags[320:]), batch_size=64)

    model = Tagger()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    if args.checkpoint and os.path.exists(args.checkpoint):
        state = torch.load(args.checkpoint, map_location="cpu")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        print(f"loaded {args.checkpoint}")

    if args.mode == "eval":
        acc, latency = evaluate(model, test_loader)
        print(f"test token accuracy {acc:.3f}, {1000 * latency:.2f} ms/batch")
        sys.exit(0)

    for epoch in range(args.epochs):
        model.train()
        for xb, tb in train_loader:
            logits = model(xb)
            loss = F.cross_entropy(logits.reshape(-1, 2), tb.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        acc, _ = evaluate(model, test_loader)
        print(f"epoch {epoch}: loss {loss.item():.4f} test acc {acc:.3f}")
    if args.checkpoint:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, args.checkpoint)


if __name__ == "__main__":
    main()
