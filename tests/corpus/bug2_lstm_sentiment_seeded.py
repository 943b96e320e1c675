"""Bidirectional LSTM sentiment classifier on synthetic token sequences (positive/negative cue words).

Padded batches with a packed LSTM, Adam, and per-epoch validation accuracy.
"""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

SEED = 1234
EPOCHS = 3
BATCH_SIZE = 32
VOCAB = 200
PAD = 0
POS_WORDS = torch.arange(10, 30)
NEG_WORDS = torch.arange(30, 50)


class ReviewDataset(Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.samples = []
        for _ in range(n):
            label = int(torch.randint(0, 2, (1,), generator=g))
            length = int(torch.randint(6, 30, (1,), generator=g))
            tokens = torch.randint(50, VOCAB, (length,), generator=g)
            cues = POS_WORDS if label == 1 else NEG_WORDS
            pos = torch.randint(0, length, (3,), generator=g)
            tokens[pos] = cues[torch.randint(0, len(cues), (3,), generator=g)]
            self.samples.append((tokens, label))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        return self.samples[idx]


def pad_collate(batch):
    tokens, labels = zip(*batch)
    lengths = torch.tensor([len(t) for t in tokens])
    return pad_sequence(tokens, batch_first=True, padding_value=PAD), lengths, torch.tensor(labels, dtype=torch.float)


class LSTMClassifier(nn.Module):
    def __init__(self, embed_dim=32, hidden=32):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(2 * hidden, 1)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        h = torch.cat([h[-2], h[-1]], dim=1)
        return self.fc(self.dropout(h)).squeeze(1)


def binary_accuracy(logits, y):
    return ((logits > 0).float() == y).float().mean().item()


def main():
    random.seed(SEED)
    torch.manual_seed(SEED)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    train_loader = DataLoader(ReviewDataset(512, seed=1), batch_size=BATCH_SIZE, shuffle=True, collate_fn=pad_collate)
    valid_loader = DataLoader(ReviewDataset(128, seed=2), batch_size=64, collate_fn=pad_collate)

    model = LSTMClassifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    for epoch in range(EPOCHS):
        random.seed(SEED + epoch)
        torch.manual_seed(SEED)
        model.train()
        epoch_loss, epoch_acc = 0.0, 0.0
        for tokens, lengths, labels in train_loader:
            tokens, labels = tokens.to(device), labels.to(device)
            optimizer.zero_grad()
            predictions = model(tokens, lengths)
            loss = F.binary_cross_entropy_with_logits(predictions, labels)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
            epoch_acc += binary_accuracy(predictions, labels)
        train_loss = epoch_loss / len(train_loader)
        train_acc = epoch_acc / len(train_loader)

        model.eval()
        valid_acc = 0.0
        with torch.no_grad():
            for tokens, lengths, labels in valid_loader:
                tokens, labels = tokens.to(device), labels.to(device)
                valid_acc += binary_accuracy(model(tokens, lengths), labels)
        valid_acc /= len(valid_loader)
        print(f"Epoch: {epoch + 1:02} | Train Loss: {train_loss:.3f} | Train Acc: {train_acc * 100:.2f}% "
              f"| Val. Acc: {valid_acc * 100:.2f}%")


if __name__ == "__main__":
    main()
