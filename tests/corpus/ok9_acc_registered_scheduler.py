"""Accelerate training of a small 1-D CNN denoiser with a hand-written warmup schedule object.

Correct: the schedule is a plain Python object (not an LR scheduler `prepare` understands), so it
is registered with `accelerator.register_for_checkpointing` and `save_state` stores its state
alongside model and optimizer. It sets the learning rate itself and is advanced only when
`accelerator.sync_gradients` is true inside `accumulate()`, i.e. once per real optimizer step and
after it. Validation uses eval mode and no_grad.
"""
import math
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from accelerate import Accelerator
from accelerate.utils import set_seed

torch.set_num_threads(1)

LENGTH = 64
ACCUM = 2


class InverseSqrtWarmup:
    """lr = base * min(step/warmup, sqrt(warmup/step)); checkpointable via state_dict()."""

    def __init__(self, optimizer, base_lr, warmup):
        self.optimizer = optimizer
        self.base_lr = base_lr
        self.warmup = warmup
        self.num_updates = 0
        self._apply()

    def _lr(self):
        s = max(self.num_updates, 1)
        return self.base_lr * min(s / self.warmup, math.sqrt(self.warmup / s))

    def _apply(self):
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()

    def step(self):
        self.num_updates += 1
        self._apply()

    def state_dict(self):
        return {"num_updates": self.num_updates, "base_lr": self.base_lr, "warmup": self.warmup}

    def load_state_dict(self, state):
        self.__dict__.update(state)
        self._apply()


class Denoiser(nn.Module):
    def __init__(self, ch=16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(1, ch, 5, padding=2), nn.GELU(),
            nn.Conv1d(ch, ch, 5, padding=2), nn.GELU(), nn.Dropout(0.1),
            nn.Conv1d(ch, 1, 5, padding=2),
        )

    def forward(self, x):
        return x - self.body(x)  # predict the noise, subtract it


def make_signals(n, gen):
    t = torch.linspace(0, 1, LENGTH)
    freq = torch.randint(1, 5, (n, 1), generator=gen).float()
    phase = torch.rand(n, 1, generator=gen) * 6.28
    clean = torch.sin(6.28 * freq * t + phase)
    noisy = clean + 0.3 * torch.randn(n, LENGTH, generator=gen)
    return TensorDataset(noisy[:, None], clean[:, None])


def main():
    set_seed(3)
    accelerator = Accelerator(cpu=True, gradient_accumulation_steps=ACCUM)
    save_root = tempfile.mkdtemp(prefix="denoiser_")

    gen = torch.Generator().manual_seed(3)
    train_loader = DataLoader(make_signals(512, gen), batch_size=16, shuffle=True)
    val_loader = DataLoader(make_signals(96, gen), batch_size=48)

    model = Denoiser()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model, optimizer, train_loader, val_loader = accelerator.prepare(model, optimizer, train_loader, val_loader)
    schedule = InverseSqrtWarmup(optimizer, base_lr=3e-3, warmup=8)
    accelerator.register_for_checkpointing(schedule)

    for epoch in range(3):
        model.train()
        for noisy, clean in train_loader:
            with accelerator.accumulate(model):
                loss = F.mse_loss(model(noisy), clean)
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
                if accelerator.sync_gradients:
                    schedule.step()

        model.eval()
        with torch.no_grad():
            mse = sum(F.mse_loss(model(n), c, reduction="sum").item() for n, c in val_loader)
        mse /= len(val_loader.dataset) * LENGTH
        accelerator.print(f"epoch {epoch}: val mse {mse:.4f} lr {optimizer.param_groups[0]['lr']:.2e}")
        accelerator.save_state(os.path.join(save_root, f"step_{schedule.num_updates}"))


if __name__ == "__main__":
    main()
