"""Tiny GPT learning digit-string addition ("12+34=46;"), trained nanoGPT-style from one long token tensor."""
import argparse
import math

import torch
import torch.nn as nn
from torch.nn import functional as F


def make_corpus(n_examples, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 50, (n_examples,), generator=g).tolist()
    b = torch.randint(0, 50, (n_examples,), generator=g).tolist()
    return "".join(f"{x}+{y}={x + y};" for x, y in zip(a, b))


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head, self.n_embd, self.dropout = cfg.n_head, cfg.n_embd, cfg.dropout
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg, vocab_size):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight

    def forward(self, idx, targets=None):
        pos = torch.arange(idx.size(1), device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--block_size", type=int, default=32)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--n_layer", type=int, default=2)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--n_embd", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--max_iters", type=int, default=24)
    p.add_argument("--eval_interval", type=int, default=4)
    p.add_argument("--eval_iters", type=int, default=4)
    p.add_argument("--grad_accum", type=int, default=2)
    cfg = p.parse_args()
    torch.manual_seed(0)

    text = make_corpus(600, seed=0)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(data))
    splits = {"train": data[:split], "val": data[split:]}

    def get_batch(name):
        d = splits[name]
        ix = torch.randint(len(d) - cfg.block_size, (cfg.batch_size,))
        x = torch.stack([d[i : i + cfg.block_size] for i in ix])
        y = torch.stack([d[i + 1 : i + 1 + cfg.block_size] for i in ix])
        return x, y

    model = GPT(cfg, len(chars))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.05)

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for name in ("train", "val"):
            losses = torch.zeros(cfg.eval_iters)
            for k in range(cfg.eval_iters):
                X, Y = get_batch(name)
                _, loss = model(X, Y)
                losses[k] = loss.item()
            out[name] = losses.mean().item()
        model.train()
        return out

    X, Y = get_batch("train")
    for iter_num in range(1, cfg.max_iters + 1):
        lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * iter_num / cfg.max_iters))
        for group in optimizer.param_groups:
            group["lr"] = lr
        for micro_step in range(cfg.grad_accum):
            _, loss = model(X, Y)
            loss = loss / cfg.grad_accum
            X, Y = get_batch("train")
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

        if iter_num % 8 == 0:
            print(f"iter {iter_num}: loss {loss.item() * cfg.grad_accum:.4f} lr {lr:.2e}")
        if iter_num % cfg.eval_interval == 0:
            losses = estimate_loss()
            print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")


if __name__ == "__main__":
    main()
