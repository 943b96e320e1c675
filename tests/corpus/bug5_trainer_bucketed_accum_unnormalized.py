"""Length-bucketed LSTM sentiment-style classifier trained by a small Trainer with accumulation.

Variable-length synthetic "reviews" (label = whether positive marker tokens outnumber negative
ones). Each epoch fit() re-buckets the training set by length with fresh shuffling and builds a
new DataLoader from those buckets; two micro-batches are accumulated per optimizer step.
"""
import argparse
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader

POS, NEG, VOCAB = (3, 4, 5), (6, 7, 8), 40


def make_reviews(n, seed=0):
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        length = rng.randint(6, 30)
        toks = [rng.randint(9, VOCAB - 1) for _ in range(length)]
        n_pos, n_neg = rng.randint(0, 4), rng.randint(0, 4)
        for _ in range(n_pos):
            toks[rng.randrange(length)] = rng.choice(POS)
        for _ in range(n_neg):
            toks[rng.randrange(length)] = rng.choice(NEG)
        label = int(sum(t in POS for t in toks) > sum(t in NEG for t in toks))
        data.append((torch.tensor(toks), label))
    return data


def collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    return pad_sequence(seqs, batch_first=True), lengths, torch.tensor(labels)


class LSTMClassifier(nn.Module):
    def __init__(self, vocab=VOCAB, emb=24, hidden=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(hidden, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.fc(self.drop(h[-1]))


class Trainer:
    def __init__(self, model, train_data, val_data, cfg):
        self.model, self.train_data, self.cfg = model, train_data, cfg
        self.rng = random.Random(cfg.seed)
        self.val_loader = DataLoader(val_data, batch_size=64, collate_fn=collate)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def bucketed_loader(self):
        order = sorted(range(len(self.train_data)), key=lambda i: (len(self.train_data[i][0]), self.rng.random()))
        bs = self.cfg.micro_batch
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        self.rng.shuffle(batches)
        return DataLoader(self.train_data, batch_sampler=batches, collate_fn=collate)

    def train_epoch(self, loader):
        self.model.train()
        accum = self.cfg.accum_steps
        total = 0.0
        self.optimizer.zero_grad()
        for i, (x, lengths, y) in enumerate(loader):
            loss = F.cross_entropy(self.model(x, lengths), y)
            loss.backward()
            total += loss.item()
            if (i + 1) % accum == 0 or i + 1 == len(loader):
                nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
                self.optimizer.step()
                self.optimizer.zero_grad()
        return total / len(loader)

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        correct = n = 0
        for x, lengths, y in self.val_loader:
            correct += (self.model(x, lengths).argmax(1) == y).sum().item()
            n += y.numel()
        return correct / n

    def fit(self):
        for epoch in range(self.cfg.epochs):
            loader = self.bucketed_loader()
            loss = self.train_epoch(loader)
            print(f"epoch {epoch}: {len(loader)} buckets, train loss {loss:.4f}, val acc {self.validate():.3f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--micro_batch", type=int, default=20)
    parser.add_argument("--accum_steps", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    cfg = parser.parse_args()
    torch.manual_seed(cfg.seed)
    data = make_reviews(300, seed=cfg.seed)
    Trainer(LSTMClassifier(), data[:180], data[180:], cfg).fit()


if __name__ == "__main__":
    main()
