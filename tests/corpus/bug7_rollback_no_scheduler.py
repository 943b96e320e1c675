"""nanoGPT-style iteration loop training a small forecaster on a synthetic
sensor stream, with AdamW, a per-iteration warmup+cosine LambdaLR schedule and
loss-spike protection: every few iterations a "last good" checkpoint is
written to out/last_good.pt, and when a batch's loss spikes far above the
running average the model and optimizer are rolled back to it and the batch
is skipped. The stream contains a deterministic glitch so the rollback fires.

The checkpoint stores the model, optimizer and iteration number but not the
LR scheduler state although the scheduler steps every iteration, so the
rollback (or a resume from that file) does not bring the schedule back with
the weights and optimizer.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

out_dir = 'out'
window = 32
batch_size = 32
max_iters = 30
warmup_iters = 4
learning_rate = 2e-3
weight_decay = 0.1
ckpt_interval = 3
spike_factor = 8.0
ema_beta = 0.9
log_interval = 1

torch.manual_seed(1234)
os.makedirs(out_dir, exist_ok=True)
ckpt_path = os.path.join(out_dir, 'last_good.pt')


class SensorStream:
    """Yields batches of (window, next value) pairs from a noisy multi-sine signal."""

    def __init__(self, seed=0, glitch_batches=(7,)):
        self.g = torch.Generator().manual_seed(seed)
        t = torch.arange(20000, dtype=torch.float32)
        self.signal = (torch.sin(t / 15.0) + 0.5 * torch.sin(t / 4.3)
                       + 0.05 * torch.randn(t.shape, generator=self.g))
        self.cursor = 0
        self.glitch_batches = set(glitch_batches)

    def next_batch(self):
        idx = torch.randint(0, len(self.signal) - window - 1, (batch_size,), generator=self.g)
        x = torch.stack([self.signal[i:i + window] for i in idx])
        y = torch.stack([self.signal[i + window] for i in idx])
        if self.cursor in self.glitch_batches:
            x = x * 300.0
            y = y * 300.0
        self.cursor += 1
        return x, y


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(window, 128), nn.GELU(),
            nn.Linear(128, 128), nn.GELU(),
            nn.Linear(128, 1),
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)


def lr_lambda(it):
    if it < warmup_iters:
        return (it + 1) / warmup_iters
    progress = (it - warmup_iters) / max(1, max_iters - warmup_iters)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


model = Forecaster()
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
stream = SensorStream()

ema_loss = None
iter_num = 0
rollbacks = 0
while iter_num < max_iters:
    X, Y = stream.next_batch()
    pred = model(X)
    loss = F.mse_loss(pred, Y)
    lossf = loss.item()

    if ema_loss is not None and lossf > spike_factor * ema_loss and os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path)
        model.load_state_dict(ckpt['model'])
        optimizer.load_state_dict(ckpt['optimizer'])
        iter_num = ckpt['iter_num']
        rollbacks += 1
        print(f"loss spike {lossf:.2f} (ema {ema_loss:.4f}): rolled back to iter {iter_num}")
        continue

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    ema_loss = lossf if ema_loss is None else ema_beta * ema_loss + (1 - ema_beta) * lossf
    iter_num += 1

    if iter_num % ckpt_interval == 0:
        checkpoint = {'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'iter_num': iter_num}
        torch.save(checkpoint, ckpt_path)

    if iter_num % log_interval == 0:
        print(f"iter {iter_num}: loss {lossf:.4f}, ema {ema_loss:.4f}, lr {scheduler.get_last_lr()[0]:.2e}")

print(f"done: {iter_num} iters, {rollbacks} rollback(s)")
