"""nanoGPT-style training loop for a small causal-convolution character model,
with gradient accumulation and a hand-written SGD-with-momentum update kept in
per-parameter buffers (no torch.optim).

The gradient-norm clip (whose result is logged as the grad norm) is called
after sgd_momentum_() has already applied the update, so clipping never
affects any parameter change.
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# config ----------------------------------------------------------------------
batch_size = 16
block_size = 32
gradient_accumulation_steps = 2
max_iters = 40
log_interval = 5
eval_interval = 20
eval_iters = 3
learning_rate = 0.05
momentum = 0.9
grad_clip = 1.0
vocab_size = 32
n_channels = 64
# ------------------------------------------------------------------------------

torch.manual_seed(0)
gen = torch.Generator().manual_seed(42)
base = torch.randint(0, vocab_size, (131,), generator=gen)
corpus = base.repeat(40)
split = int(0.9 * len(corpus))
train_data, val_data = corpus[:split], corpus[split:]


def get_batch(split_name):
    d = train_data if split_name == 'train' else val_data
    ix = torch.randint(len(d) - block_size - 1, (batch_size,))
    x = torch.stack([d[i:i + block_size] for i in ix])
    y = torch.stack([d[i + 1:i + 1 + block_size] for i in ix])
    return x, y


class CausalConvLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, n_channels)
        self.conv1 = nn.Conv1d(n_channels, n_channels, kernel_size=3)
        self.conv2 = nn.Conv1d(n_channels, n_channels, kernel_size=3, dilation=2)
        self.norm = nn.LayerNorm(n_channels)
        self.head = nn.Linear(n_channels, vocab_size)

    def forward(self, idx, targets=None):
        x = self.emb(idx).transpose(1, 2)
        x = x + F.gelu(self.conv1(F.pad(x, (2, 0))))
        x = x + F.gelu(self.conv2(F.pad(x, (4, 0))))
        logits = self.head(self.norm(x.transpose(1, 2)))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))
        return logits, loss


@torch.no_grad()
def sgd_momentum_(params, bufs, lr, mu):
    for p, b in zip(params, bufs):
        if p.grad is None:
            continue
        b.mul_(mu).add_(p.grad)
        p.add_(b, alpha=-lr)


@torch.no_grad()
def estimate_loss(model):
    model.eval()
    out = {}
    for s in ('train', 'val'):
        acc = 0.0
        for _ in range(eval_iters):
            _, l = model(*get_batch(s))
            acc += l.item()
        out[s] = acc / eval_iters
    model.train()
    return out


model = CausalConvLM()
params = [p for p in model.parameters() if p.requires_grad]
bufs = [torch.zeros_like(p) for p in params]

iter_num = 0
t0 = time.time()
while True:
    if iter_num % eval_interval == 0:
        ev = estimate_loss(model)
        print(f"step {iter_num}: train {ev['train']:.4f} val {ev['val']:.4f}")

    for micro_step in range(gradient_accumulation_steps):
        X, Y = get_batch('train')
        _, loss = model(X, Y)
        loss = loss / gradient_accumulation_steps
        loss.backward()

    sgd_momentum_(params, bufs, learning_rate, momentum)
    if grad_clip != 0.0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    model.zero_grad(set_to_none=True)

    if iter_num % log_interval == 0:
        lossf = loss.item() * gradient_accumulation_steps
        dt = time.time() - t0
        t0 = time.time()
        print(f"iter {iter_num}: loss {lossf:.4f}, grad norm {norm.item():.3f}, time {dt * 1000:.1f}ms")
    iter_num += 1
    if iter_num > max_iters:
        break
