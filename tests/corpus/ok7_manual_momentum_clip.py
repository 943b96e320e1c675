"""Small MLP classifier trained by a Trainer class that implements SGD with
heavy-ball momentum and decoupled weight decay by hand (no torch.optim).

Gradients are clipped by value right after backward and before the hand
update, and cleared with p.grad = None at the start of each step. Evaluation
runs in eval mode under torch.no_grad(). Correct as written.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class Config:
    n_features: int = 24
    n_classes: int = 5
    hidden: int = 96
    batch_size: int = 48
    epochs: int = 3
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    clip_value: float = 0.5
    seed: int = 0


def synthetic_blobs(n, n_features, n_classes, seed):
    centers = 0.5 * torch.randn(n_classes, n_features, generator=torch.Generator().manual_seed(1234))
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    x = centers[labels] + torch.randn(n, n_features, generator=g)
    return TensorDataset(x, labels)


class Classifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cfg.n_features, cfg.hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(cfg.hidden, cfg.n_classes),
        )

    def forward(self, x):
        return self.net(x)


class Trainer:
    def __init__(self, cfg, model, train_loader, val_loader):
        self.cfg = cfg
        self.model = model
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.momentum_buffers = [torch.zeros_like(p) for p in self.params]
        self.global_step = 0

    @torch.no_grad()
    def _apply_update(self):
        cfg = self.cfg
        for p, buf in zip(self.params, self.momentum_buffers):
            if p.grad is None:
                continue
            p.mul_(1.0 - cfg.lr * cfg.weight_decay)
            buf.mul_(cfg.momentum).add_(p.grad)
            p.add_(buf, alpha=-cfg.lr)

    def training_step(self, x, y):
        for p in self.params:
            p.grad = None
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        torch.nn.utils.clip_grad_value_(self.params, self.cfg.clip_value)
        self._apply_update()
        self.global_step += 1
        return loss.detach()

    def train_epoch(self, epoch):
        self.model.train()
        total, count = 0.0, 0
        for x, y in self.train_loader:
            loss = self.training_step(x, y)
            total += loss.item() * x.size(0)
            count += x.size(0)
        return total / max(count, 1)

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        correct, seen, loss_sum = 0, 0, 0.0
        for x, y in self.val_loader:
            logits = self.model(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            seen += y.numel()
        return loss_sum / seen, correct / seen

    def fit(self):
        for epoch in range(self.cfg.epochs):
            train_loss = self.train_epoch(epoch)
            val_loss, val_acc = self.evaluate()
            print(f"epoch {epoch}: train_loss={train_loss:.4f} "
                  f"val_loss={val_loss:.4f} val_acc={val_acc:.3f} step={self.global_step}")


def main():
    cfg = Config()
    torch.manual_seed(cfg.seed)
    train_ds = synthetic_blobs(480, cfg.n_features, cfg.n_classes, seed=1)
    val_ds = synthetic_blobs(192, cfg.n_features, cfg.n_classes, seed=2)
    train_loader = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_ds, batch_size=96)
    model = Classifier(cfg)
    Trainer(cfg, model, train_loader, val_loader).fit()


if __name__ == "__main__":
    main()
