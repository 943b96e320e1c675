"""Bag-of-embeddings text classifier on synthetic token sequences, trained by a
Trainer class with bf16 autocast on CPU, a GradScaler and a per-step cosine
LR schedule, plus a "restart from best" policy: at the configured epochs the
trainer reloads checkpoints/best.pt (written earlier in the same run).

best.pt holds the model, optimizer, GradScaler and scheduler state, and the
restart restores all four deliberately. Correct as written.
"""
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class TrainConfig:
    vocab: int = 200
    seq_len: int = 24
    n_classes: int = 4
    emb_dim: int = 64
    batch_size: int = 32
    epochs: int = 4
    lr: float = 2e-3
    restart_epochs: list = field(default_factory=lambda: [1])
    out_dir: str = "checkpoints"
    seed: int = 7


def make_split(n, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, cfg.n_classes, (n,), generator=g)
    x = torch.randint(0, cfg.vocab, (n, cfg.seq_len), generator=g)
    keyword = (y * 10 + 5).unsqueeze(1)
    hit = torch.rand(n, cfg.seq_len, generator=g) < 0.25
    x = torch.where(hit, keyword.expand_as(x), x)
    return TensorDataset(x, y)


class BagClassifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.emb = nn.Embedding(cfg.vocab, cfg.emb_dim)
        self.proj = nn.Sequential(nn.Linear(cfg.emb_dim, 128), nn.ReLU(), nn.Dropout(0.2))
        self.out = nn.Linear(128, cfg.n_classes)

    def forward(self, tokens):
        h = self.emb(tokens).mean(dim=1)
        return self.out(self.proj(h))


class Trainer:
    def __init__(self, cfg):
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.train_loader = DataLoader(make_split(384, cfg, 11), batch_size=cfg.batch_size,
                                       shuffle=True, drop_last=True)
        self.val_loader = DataLoader(make_split(128, cfg, 12), batch_size=64)
        self.model = BagClassifier(cfg)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=0.05)
        total_steps = cfg.epochs * len(self.train_loader)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=total_steps)
        self.scaler = torch.amp.GradScaler("cpu")
        self.best_val = float("inf")
        os.makedirs(cfg.out_dir, exist_ok=True)
        self.best_path = os.path.join(cfg.out_dir, "best.pt")

    def state_dict(self, epoch, val_loss):
        return {
            "epoch": epoch,
            "val_loss": val_loss,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def load_state_dict(self, ckpt):
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.scheduler.load_state_dict(ckpt["scheduler"])

    def train_one_epoch(self):
        self.model.train()
        total, steps = 0.0, 0
        for tokens, labels in self.train_loader:
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = F.cross_entropy(self.model(tokens), labels)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total += loss.item()
            steps += 1
        return total / steps

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        total, n = 0.0, 0
        for tokens, labels in self.val_loader:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = self.model(tokens)
            total += F.cross_entropy(logits.float(), labels, reduction="sum").item()
            n += labels.numel()
        return total / n

    def fit(self):
        for epoch in range(self.cfg.epochs):
            if epoch in self.cfg.restart_epochs and os.path.exists(self.best_path):
                ckpt = torch.load(self.best_path)
                self.load_state_dict(ckpt)
                print(f"restarting from best checkpoint (epoch {ckpt['epoch']})")
            train_loss = self.train_one_epoch()
            val_loss = self.validate()
            lr = self.scheduler.get_last_lr()[0]
            print(f"epoch {epoch}: train {train_loss:.4f} val {val_loss:.4f} lr {lr:.2e}")
            if val_loss < self.best_val:
                self.best_val = val_loss
                torch.save(self.state_dict(epoch, val_loss), self.best_path)


if __name__ == "__main__":
    Trainer(TrainConfig()).fit()
