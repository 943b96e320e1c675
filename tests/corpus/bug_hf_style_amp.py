"""1D-conv keyword-spotting classifier on synthetic waveforms, trained with mixed precision.

HF-Trainer-like loop: training_step() per micro-batch, gradient accumulation, grad-norm clipping.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


@dataclass
class Args:
    epochs: int = 2
    batch_size: int = 16
    gradient_accumulation_steps: int = 2
    learning_rate: float = 2e-3
    max_grad_norm: float = 1.0
    warmup_steps: int = 2
    logging_steps: int = 4
    amp: bool = True


class SyntheticKeywords(Dataset):
    def __init__(self, n, num_classes=4, length=256, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, num_classes, (n,), generator=g)
        t = torch.linspace(0, 1, length)
        freqs = 4.0 + 6.0 * self.labels.float()
        self.waves = torch.sin(2 * math.pi * freqs[:, None] * t[None, :]) + 0.5 * torch.randn(n, length, generator=g)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"waveform": self.waves[i].unsqueeze(0), "labels": self.labels[i]}


class KeywordNet(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 16, 9, stride=2, padding=4),
            nn.GroupNorm(4, 16),
            nn.SiLU(),
            nn.Conv1d(16, 32, 9, stride=2, padding=4),
            nn.GroupNorm(4, 32),
            nn.SiLU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(32, num_classes),
        )

    def forward(self, waveform, labels=None):
        logits = self.net(waveform)
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return loss, logits


class AmpTrainer:
    def __init__(self, model, args, train_dataset, eval_dataset):
        self.args = args
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device)
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=args.amp)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.learning_rate)
        self.lr_scheduler = None

    def autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.args.amp)

    def training_step(self, batch):
        self.model.train()
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with self.autocast():
            loss, _ = self.model(**batch)
        self.scaler.scale(loss / self.args.gradient_accumulation_steps).backward()
        return loss.detach()

    def optimizer_step(self):
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.args.max_grad_norm)
        self.optimizer.step()
        self.scaler.update()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return grad_norm

    def train(self):
        loader = DataLoader(self.train_dataset, batch_size=self.args.batch_size, shuffle=True)
        total_steps = self.args.epochs * len(loader) // self.args.gradient_accumulation_steps
        warmup = self.args.warmup_steps
        self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / total_steps)
        )
        global_step = 0
        for epoch in range(self.args.epochs):
            window_loss, window_n = 0.0, 0
            for step, batch in enumerate(loader):
                loss = self.training_step(batch)
                window_loss += loss.item()
                window_n += 1
                if (step + 1) % self.args.gradient_accumulation_steps == 0:
                    grad_norm = self.optimizer_step()
                    global_step += 1
                    if global_step % self.args.logging_steps == 0:
                        print(
                            f"epoch {epoch} step {global_step} loss {window_loss / window_n:.4f} "
                            f"grad_norm {grad_norm:.3f} lr {self.lr_scheduler.get_last_lr()[0]:.2e} "
                            f"scale {self.scaler.get_scale():.0f}"
                        )
                        window_loss, window_n = 0.0, 0
            print(f"epoch {epoch}: {self.evaluate()}")

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        loader = DataLoader(self.eval_dataset, batch_size=64)
        correct, n = 0, 0
        for batch in loader:
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with self.autocast():
                _, logits = self.model(**batch)
            correct += (logits.argmax(-1) == batch["labels"]).sum().item()
            n += batch["labels"].numel()
        return {"eval_accuracy": round(correct / n, 4)}


def main():
    torch.manual_seed(0)
    args = Args()
    trainer = AmpTrainer(KeywordNet(), args, SyntheticKeywords(256, seed=1), SyntheticKeywords(64, seed=2))
    trainer.train()


if __name__ == "__main__":
    main()
