"""Minimal GPT-style causal language model on a synthetic 'grammar' stream.

Uses F.scaled_dot_product_attention with attention dropout that follows the
module's training flag, functional residual dropout with training=self.training,
and an IterableDataset that streams fresh sequences every epoch."""
import argparse
import logging
import math
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset

torch.set_num_threads(1)
log = logging.getLogger("tiny_gpt")

CONFIG = {
    "vocab_size": 12,
    "block_size": 24,
    "n_embd": 32,
    "n_head": 4,
    "n_layer": 2,
    "dropout": 0.1,
}


class GrammarStream(IterableDataset):
    """Sequences of the form  a b c a b c ...  with a random period and start token.
    Streams `n_seqs` sequences per pass; the generator is re-seeded per epoch."""

    def __init__(self, n_seqs, block_size, vocab_size, seed):
        super().__init__()
        self.n_seqs, self.block_size, self.vocab_size, self.seed = n_seqs, block_size, vocab_size, seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        for _ in range(self.n_seqs):
            period = int(torch.randint(2, 5, (1,), generator=g))
            pattern = torch.randint(1, self.vocab_size, (period,), generator=g)
            seq = pattern.repeat(self.block_size // period + 2)[: self.block_size + 1]
            yield seq[:-1], seq[1:]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_attn = nn.Linear(cfg["n_embd"], 3 * cfg["n_embd"])
        self.c_proj = nn.Linear(cfg["n_embd"], cfg["n_embd"])
        self.n_head = cfg["n_head"]
        self.dropout = cfg["dropout"]

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return F.dropout(self.c_proj(y), p=self.dropout, training=self.training)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc = nn.Linear(cfg["n_embd"], 4 * cfg["n_embd"])
        self.proj = nn.Linear(4 * cfg["n_embd"], cfg["n_embd"])
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg["n_embd"])
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg["n_embd"])
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TinyGPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["block_size"], cfg["n_embd"])
        self.drop = nn.Dropout(cfg["dropout"])
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(cfg["n_embd"])
        self.lm_head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx):
        pos = torch.arange(idx.size(1), device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx, n_new):
        for _ in range(n_new):
            logits = self(idx[:, -self.cfg["block_size"]:])
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return idx


def train_epoch(model, loader, optimizer, scheduler, epoch):
    model.train()
    tot, n = 0.0, 0
    for step, (x, y) in enumerate(loader):
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        tot += loss.item() * y.numel()
        n += y.numel()
    log.info("epoch %d: train loss %.4f (%d steps)", epoch, tot / n, step + 1)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    tot, n = 0.0, 0
    for x, y in loader:
        logits = model(x)
        tot += F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), reduction="sum").item()
        n += y.numel()
    return tot / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(args.seed)

    cfg = CONFIG
    train_stream = GrammarStream(448, cfg["block_size"], cfg["vocab_size"], seed=100)
    val_stream = GrammarStream(128, cfg["block_size"], cfg["vocab_size"], seed=999)
    train_loader = DataLoader(train_stream, batch_size=args.batch_size)
    val_loader = DataLoader(val_stream, batch_size=64)

    model = TinyGPT(cfg)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95),
    )
    steps_per_epoch = math.ceil(train_stream.n_seqs / args.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.2
    )

    for epoch in range(args.epochs):
        train_stream.set_epoch(epoch)
        train_epoch(model, train_loader, optimizer, scheduler, epoch)
        val_loss = evaluate(model, val_loader)
        log.info("epoch %d: val loss %.4f ppl %.2f", epoch, val_loss, math.exp(val_loss))

    model.eval()
    prompt = torch.tensor([[3, 7, 5, 3, 7]])
    sample = model.generate(prompt, n_new=10)
    log.info("greedy continuation of %s -> %s", prompt[0].tolist(), sample[0, 5:].tolist())
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "config": cfg},
               os.path.join(tempfile.gettempdir(), "tiny_gpt.pt"))


if __name__ == "__main__":
    main()
