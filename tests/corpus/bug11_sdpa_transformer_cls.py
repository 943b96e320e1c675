"""Tiny pre-LN transformer encoder for sequence classification
(does the sequence contain more 'A' tokens than 'B' tokens?)."""
import argparse
import logging
import math
import os
import tempfile
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
log = logging.getLogger("tiny_tf")


@dataclass
class ModelConfig:
    vocab_size: int = 16
    max_len: int = 20
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    attn_dropout: float = 0.1
    resid_dropout: float = 0.1
    num_classes: int = 2


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.d_model % cfg.n_heads == 0
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.attn_dropout = cfg.attn_dropout
        self.resid_drop = nn.Dropout(cfg.resid_dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
        k = k.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
        v = v.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=self.attn_dropout)
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model), nn.Dropout(cfg.resid_dropout),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyTransformerClassifier(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(1, cfg.max_len, cfg.d_model))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.num_classes)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, tokens):
        x = self.tok(tokens) + self.pos[:, : tokens.size(1)]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x).mean(dim=1))


def make_dataset(n, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, cfg.vocab_size, (n, cfg.max_len), generator=g)
    count_a = (tokens == 1).sum(1)
    count_b = (tokens == 2).sum(1)
    labels = (count_a > count_b).long()
    return TensorDataset(tokens, labels)


def warmup_cosine(total_steps, warmup):
    def fn(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * progress))
    return fn


def train_epoch(model, loader, optimizer, scheduler, epoch):
    model.train()
    running, n = 0.0, 0
    for it, (tokens, labels) in enumerate(loader):
        optimizer.zero_grad()
        logits = model(tokens)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        running += loss.item() * labels.size(0)
        n += labels.size(0)
    log.info("epoch %d | train loss %.4f | lr %.2e", epoch, running / n, scheduler.get_last_lr()[0])


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    for tokens, labels in loader:
        logits = model(tokens)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        total += labels.size(0)
    return loss_sum / total, correct / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(args.seed)

    cfg = ModelConfig()
    train_loader = DataLoader(make_dataset(448, cfg, 10), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(make_dataset(192, cfg, 20), batch_size=96)

    model = TinyTransformerClassifier(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    total = args.epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, warmup=10))

    best = 0.0
    for epoch in range(args.epochs):
        train_epoch(model, train_loader, optimizer, scheduler, epoch)
        val_loss, val_acc = evaluate(model, val_loader)
        log.info("epoch %d | val loss %.4f | val acc %.3f", epoch, val_loss, val_acc)
        if val_acc > best:
            best = val_acc
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "cfg": cfg.__dict__},
                       os.path.join(tempfile.gettempdir(), "tiny_tf_best.pt"))
    log.info("best val acc %.3f", best)


if __name__ == "__main__":
    main()
