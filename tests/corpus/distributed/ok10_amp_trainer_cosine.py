"""Trainer-style DDP script: MLP classifier, bf16 autocast on CPU, cosine schedule.

    torchrun --nproc-per-node 2 ok10_amp_trainer_cosine.py --epochs 3
"""
import argparse
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


@dataclass
class Config:
    epochs: int = 3
    batch_size: int = 16
    accum_steps: int = 2
    lr: float = 3e-3
    weight_decay: float = 0.01
    in_dim: int = 32
    hidden: int = 96
    classes: int = 6
    train_size: int = 832
    val_size: int = 192
    seed: int = 42
    ckpt_dir: str = os.path.join(tempfile.gettempdir(), "ok10_amp_trainer")


def parse_args():
    cfg = Config()
    p = argparse.ArgumentParser(description="AMP trainer example")
    for name, value in vars(cfg).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    return Config(**vars(p.parse_args()))


def gaussian_mixture(n, dim, classes, seed):
    g = torch.Generator().manual_seed(seed)
    means = 1.5 * torch.randn(classes, dim, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, classes, (n,), generator=g)
    x = means[y] + torch.randn(n, dim, generator=g)
    return TensorDataset(x, y)


class Classifier(nn.Module):
    def __init__(self, in_dim, hidden, classes):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.GELU(), nn.LayerNorm(hidden),
            nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.layers(x)


class Trainer:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        torch.manual_seed(cfg.seed)

        self.train_set = gaussian_mixture(cfg.train_size, cfg.in_dim, cfg.classes, cfg.seed)
        self.val_set = gaussian_mixture(cfg.val_size, cfg.in_dim, cfg.classes, cfg.seed + 1)
        self.train_sampler = DistributedSampler(self.train_set, shuffle=True, seed=cfg.seed)
        self.train_loader = DataLoader(self.train_set, batch_size=cfg.batch_size,
                                       sampler=self.train_sampler, num_workers=0)
        self.val_loader = DataLoader(self.val_set, batch_size=64, num_workers=0)

        self.model = DDP(Classifier(cfg.in_dim, cfg.hidden, cfg.classes))
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr,
                                           weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=cfg.epochs)
        self.scaler = torch.amp.GradScaler("cpu")
        self.criterion = nn.CrossEntropyLoss()

    def log(self, *msg):
        if self.rank == 0:
            print(*msg, flush=True)

    def train_epoch(self, epoch):
        self.train_sampler.set_epoch(epoch)
        self.model.train()
        sums = torch.zeros(3)
        n_batches = len(self.train_loader)
        self.optimizer.zero_grad(set_to_none=True)
        for i, (x, y) in enumerate(self.train_loader):
            last_micro = (i + 1) % self.cfg.accum_steps == 0 or i + 1 == n_batches
            ctx = contextlib.nullcontext() if last_micro else self.model.no_sync()
            with ctx:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = self.model(x)
                    loss = self.criterion(logits, y)
                self.scaler.scale(loss / self.cfg.accum_steps).backward()
            if last_micro:
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
            sums[0] += loss.detach().float() * y.size(0)
            sums[1] += (logits.argmax(1) == y).sum()
            sums[2] += y.size(0)
        self.scheduler.step()
        dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        return (sums[0] / sums[2]).item(), (sums[1] / sums[2]).item()

    @torch.no_grad()
    def evaluate(self):
        net = self.model.module
        net.eval()
        correct = total = 0
        for x, y in self.val_loader:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                pred = net(x).argmax(1)
            correct += (pred == y).sum().item()
            total += y.numel()
        return correct / total

    def save_checkpoint(self, epoch):
        os.makedirs(self.cfg.ckpt_dir, exist_ok=True)
        torch.save({"epoch": epoch,
                    "model": self.model.module.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict()},
                   os.path.join(self.cfg.ckpt_dir, "latest.pt"))

    def fit(self):
        self.log(f"ranks={self.world_size} micro-batches/epoch={len(self.train_loader)} "
                 f"accum={self.cfg.accum_steps}")
        for epoch in range(self.cfg.epochs):
            t0 = time.time()
            loss, acc = self.train_epoch(epoch)
            if self.rank == 0:
                val_acc = self.evaluate()
                self.save_checkpoint(epoch)
                self.log(f"epoch {epoch + 1}/{self.cfg.epochs} loss={loss:.4f} acc={acc:.3f} "
                         f"val_acc={val_acc:.3f} lr={self.scheduler.get_last_lr()[0]:.2e} "
                         f"scale={self.scaler.get_scale():.0f} ({time.time() - t0:.1f}s)")


def main():
    cfg = parse_args()
    dist.init_process_group("gloo")
    try:
        Trainer(cfg).fit()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
