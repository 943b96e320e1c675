"""Transformer classifier whose attention dropout follows `self.training`
(`dropout_p=self.p if self.training else 0.0`) and whose residual dropout is
`F.dropout(..., training=self.training)`; validation in eval mode runs no dropout. After training,
an MC-dropout uncertainty estimate switches the nn.Dropout modules (only them) back to training mode
on purpose and averages 8 stochastic forwards.
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, p: float) -> None:
        super().__init__()
        self.heads, self.p = heads, p
        self.norm, self.qkv, self.proj = nn.LayerNorm(dim), nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 64), nn.GELU(), nn.Dropout(p), nn.Linear(64, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0)
        x = x + F.dropout(self.proj(a.transpose(1, 2).reshape(b, t, d)), self.p, training=self.training)
        return x + self.mlp(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    tokens = torch.randint(0, 16, (448, 10))
    labels = ((tokens < 4).sum(1) > 2).long()
    train = DataLoader(TensorDataset(tokens[:384], labels[:384]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(tokens[384:], labels[384:]), batch_size=32)
    model = nn.Sequential(nn.Embedding(16, 32), Block(32, 4, 0.2), nn.Flatten(), nn.Linear(320, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val)
        print(f"epoch {epoch + 1}: val acc {correct / 64:.3f}")
    for m in model.modules():  # MC dropout: the Dropout layers only, on purpose
        if isinstance(m, nn.Dropout):
            m.train()
    with torch.no_grad():
        xb, _ = next(iter(val))
        probs = torch.stack([model(xb).softmax(1) for _ in range(8)])
    print(f"MC-dropout predictive std {probs.std(0).mean():.4f}")


if __name__ == "__main__":
    main()
