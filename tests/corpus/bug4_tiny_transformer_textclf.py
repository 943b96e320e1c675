"""Tiny pre-LN transformer encoder for synthetic token-sequence classification.

A sequence is labelled by which of the "signal" token groups occurs most often.
AdamW with linear warmup then linear decay, label smoothing, gradient clipping.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

PAD = 0


class TokenGroupsDataset(Dataset):
    def __init__(self, n, vocab_size=48, seq_len=24, num_classes=3, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.tokens = torch.randint(1, vocab_size, (n, seq_len), generator=g)
        groups = torch.arange(1, vocab_size) % (num_classes + 1)
        counts = torch.stack(
            [(groups[self.tokens - 1] == c + 1).sum(1) for c in range(num_classes)], dim=1
        )
        self.labels = counts.argmax(1)
        lengths = torch.randint(seq_len // 2, seq_len + 1, (n,), generator=g)
        mask = torch.arange(seq_len)[None, :] >= lengths[:, None]
        self.tokens[mask] = PAD

    def __len__(self):
        return self.labels.size(0)

    def __getitem__(self, i):
        return self.tokens[i], self.labels[i]


class TinyEncoderClassifier(nn.Module):
    def __init__(self, vocab_size=48, d_model=32, nhead=4, num_layers=2, max_len=64, num_classes=3, dropout=0.1):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.emb_drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward=4 * d_model, dropout=dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        pad_mask = tokens.eq(PAD)
        pos = torch.arange(tokens.size(1), device=tokens.device)
        h = self.emb_drop(self.tok_emb(tokens) + self.pos_emb(pos)[None])
        h = self.norm(self.encoder(h, src_key_padding_mask=pad_mask))
        keep = (~pad_mask).unsqueeze(-1).float()
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return self.head(pooled)


def linear_warmup_decay(warmup, total):
    def fn(step):
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return fn


def train_one_epoch(model, loader, optimizer, scheduler, clip=1.0):
    model.train()
    total = 0.0
    for tokens, labels in loader:
        logits = model(tokens)
        loss = F.cross_entropy(logits, labels, label_smoothing=0.05)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        scheduler.step()
        total += loss.item()
    return total / len(loader)


@torch.no_grad()
def evaluate(model, loader):
    correct, total, loss_sum = 0, 0, 0.0
    for tokens, labels in loader:
        logits = model(tokens)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        total += labels.numel()
    return loss_sum / total, correct / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup-steps", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(42)
    train_loader = DataLoader(TokenGroupsDataset(480, seed=0), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TokenGroupsDataset(128, seed=1), batch_size=64)

    model = TinyEncoderClassifier()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "emb" in name else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
    )
    total_steps = args.epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_decay(args.warmup_steps, total_steps))

    for epoch in range(args.epochs):
        train_loss = train_one_epoch(model, train_loader, optimizer, scheduler)
        val_loss, val_acc = evaluate(model, val_loader)
        print(f"epoch {epoch + 1}: train {train_loss:.4f} | val {val_loss:.4f} acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
