"""nanoGPT-style character-level bigram/MLP language model on a synthetic
corpus, trained with a plain hand-written SGD update inside an iteration loop
(no torch.optim, no gradient clipping).

The learning rate follows a warmup + cosine schedule computed by hand each
iteration; gradients are cleared with zero_grad(set_to_none=True) before
every backward; estimate_loss() runs in eval mode under no_grad. Correct.
"""
import math
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

# -----------------------------------------------------------------------------
batch_size = 32
block_size = 16
max_iters = 60
eval_interval = 20
eval_iters = 4
learning_rate = 0.5
min_lr = 0.05
warmup_iters = 5
n_embd = 48
dropout = 0.1
seed = 1337
# -----------------------------------------------------------------------------

torch.manual_seed(seed)

# synthetic "text": a noisy repeating pattern over a small alphabet
vocab_size = 27
g = torch.Generator().manual_seed(0)
pattern = torch.randint(0, vocab_size, (97,), generator=g)
data = pattern.repeat(60)
noise_mask = torch.rand(data.shape, generator=g) < 0.05
data = torch.where(noise_mask, torch.randint(0, vocab_size, data.shape, generator=g), data)
n = int(0.9 * len(data))
train_data = data[:n]
val_data = data[n:]


def get_batch(split):
    d = train_data if split == 'train' else val_data
    ix = torch.randint(len(d) - block_size, (batch_size,))
    x = torch.stack([d[i:i + block_size] for i in ix])
    y = torch.stack([d[i + 1:i + block_size + 1] for i in ix])
    return x, y


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.mlp = nn.Sequential(
            nn.LayerNorm(n_embd),
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(),
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(dropout),
        )
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        x = x + self.mlp(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


@torch.no_grad()
def estimate_loss(model):
    out = {}
    model.eval()
    for split in ['train', 'val']:
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            X, Y = get_batch(split)
            _, loss = model(X, Y)
            losses[k] = loss.item()
        out[split] = losses.mean()
    model.train()
    return out


def get_lr(it):
    if it < warmup_iters:
        return learning_rate * (it + 1) / warmup_iters
    decay_ratio = (it - warmup_iters) / max(1, max_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


model = TinyLM()
print(f"{sum(p.numel() for p in model.parameters()) / 1e3:.1f}K parameters")

X, Y = get_batch('train')
t0 = time.time()
for iter_num in range(max_iters):
    lr = get_lr(iter_num)

    if iter_num % eval_interval == 0 or iter_num == max_iters - 1:
        losses = estimate_loss(model)
        print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")

    logits, loss = model(X, Y)
    X, Y = get_batch('train')
    model.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= lr * p.grad

    if iter_num % 10 == 0:
        dt = time.time() - t0
        t0 = time.time()
        print(f"iter {iter_num}: loss {loss.item():.4f}, lr {lr:.4f}, time {dt * 1000:.1f}ms")
