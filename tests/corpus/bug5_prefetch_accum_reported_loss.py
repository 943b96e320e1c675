"""Bag-of-embeddings topic classifier trained with gradient accumulation behind a prefetching loader.

The loaders are wrapped the way accelerate's DataLoaderShard does it: the wrapper fetches one
batch ahead so it knows when the current batch is the last one. Optimizer steps happen every
--gradient_accumulation_steps micro-batches and on the last batch of the epoch; a linear
warmup/decay schedule is stepped with the optimizer.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


class SyntheticTopics(Dataset):
    """Token-id documents whose words are drawn mostly from a topic-specific slice of the vocab."""

    def __init__(self, n_docs, vocab=300, n_topics=4, doc_len=20, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, n_topics, (n_docs,), generator=g)
        span = vocab // n_topics
        topical = self.labels[:, None] * span + torch.randint(0, span, (n_docs, doc_len), generator=g)
        noise = torch.randint(0, vocab, (n_docs, doc_len), generator=g)
        use_noise = torch.rand(n_docs, doc_len, generator=g) < 0.5
        self.docs = torch.where(use_noise, noise, topical)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.docs[i], "labels": self.labels[i]}


class PrefetchLoader:
    """Iterates `loader` one batch ahead; `end_of_dataloader` is True while the last batch is out."""

    def __init__(self, loader, device):
        self.loader, self.device = loader, device
        self.end_of_dataloader = False

    def __len__(self):
        return len(self.loader)

    def _move(self, batch):
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def __iter__(self):
        self.end_of_dataloader = False
        it = iter(self.loader)
        try:
            current = next(it)
        except StopIteration:
            return
        while True:
            try:
                upcoming = next(it)
            except StopIteration:
                self.end_of_dataloader = True
                yield self._move(current)
                break
            yield self._move(current)
            current = upcoming


class BagClassifier(nn.Module):
    def __init__(self, vocab, dim, n_classes, p_drop=0.1):
        super().__init__()
        self.emb = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.drop = nn.Dropout(p_drop)
        self.fc = nn.Linear(dim, n_classes)

    def forward(self, input_ids, labels=None):
        logits = self.fc(self.drop(self.emb(input_ids)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return loss, logits


def linear_schedule(optimizer, warmup, total):
    def f(step):
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_train_epochs", type=int, default=3)
    parser.add_argument("--per_device_batch_size", type=int, default=16)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=4)
    parser.add_argument("--learning_rate", type=float, default=5e-2)
    parser.add_argument("--warmup_steps", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(42)
    device = torch.device("cpu")

    train_ds = SyntheticTopics(144, seed=1)
    eval_ds = SyntheticTopics(96, seed=2)
    train_loader = PrefetchLoader(DataLoader(train_ds, batch_size=args.per_device_batch_size, shuffle=True), device)
    eval_loader = PrefetchLoader(DataLoader(eval_ds, batch_size=32), device)

    model = BagClassifier(300, 32, 4).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.01)
    updates_per_epoch = math.ceil(len(train_loader) / args.gradient_accumulation_steps)
    scheduler = linear_schedule(optimizer, args.warmup_steps, updates_per_epoch * args.num_train_epochs)

    completed_steps = 0
    for epoch in range(args.num_train_epochs):
        model.train()
        total_loss = 0.0
        for step, batch in enumerate(train_loader):
            loss, _ = model(**batch)
            loss = loss / args.gradient_accumulation_steps
            loss.backward()
            total_loss += loss.item()
            if (step + 1) % args.gradient_accumulation_steps == 0 or step + 1 == len(train_loader):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                completed_steps += 1

        model.eval()
        eval_loss, correct, seen = 0.0, 0, 0
        with torch.no_grad():
            for batch in eval_loader:
                loss, logits = model(**batch)
                eval_loss += loss.item() * batch["labels"].numel()
                correct += (logits.argmax(-1) == batch["labels"]).sum().item()
                seen += batch["labels"].numel()
        print(f"epoch {epoch}: train_loss {total_loss / len(train_loader):.4f} "
              f"eval_loss {eval_loss / seen:.4f} accuracy {correct / seen:.3f} steps {completed_steps}")


if __name__ == "__main__":
    main()
