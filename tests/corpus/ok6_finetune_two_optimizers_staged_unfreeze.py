"""Fine-tune a "pretrained" GRU text encoder on a 3-way topic task with two optimizers.

The encoder (embedding + GRU) is restored from a checkpoint written at startup (standing in for a
pretrained one) and gets its own SGD optimizer with a small LR; the new classification head gets
Adam. For the first ``--freeze_epochs`` epochs the encoder is frozen (requires_grad=False) so only
the head learns; afterwards it is unfrozen and both optimizers update their parameters.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Encoder(nn.Module):
    def __init__(self, vocab, emb=32, hid=48):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.gru = nn.GRU(emb, hid, batch_first=True, bidirectional=True)

    def forward(self, x):
        out, _ = self.gru(self.emb(x))
        mask = (x != 0).unsqueeze(-1).float()
        return (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class TopicClassifier(nn.Module):
    def __init__(self, vocab, n_classes):
        super().__init__()
        self.encoder = Encoder(vocab)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(96, n_classes))

    def forward(self, x):
        return self.head(self.encoder(x))


def topic_docs(n, vocab, seq_len, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    band = (vocab - 1) // 3
    x = torch.randint(1, vocab, (n, seq_len), generator=g)
    topical = torch.rand(n, seq_len, generator=g) < 0.35
    topic_tok = 1 + y[:, None] * band + torch.randint(0, band, (n, seq_len), generator=g)
    x = torch.where(topical, topic_tok, x)
    lengths = torch.randint(seq_len // 2, seq_len + 1, (n,), generator=g)
    x[torch.arange(seq_len)[None, :] >= lengths[:, None]] = 0
    return x, y


def set_requires_grad(module, flag):
    for p in module.parameters():
        p.requires_grad_(flag)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--freeze_epochs", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=61)
    ap.add_argument("--seq_len", type=int, default=20)
    args = ap.parse_args()
    torch.manual_seed(21)
    workdir = tempfile.mkdtemp(prefix="topic_ft_")

    pretrained = os.path.join(workdir, "encoder.pt")
    torch.save(Encoder(args.vocab).state_dict(), pretrained)

    model = TopicClassifier(args.vocab, 3)
    model.encoder.load_state_dict(torch.load(pretrained))
    opt_encoder = torch.optim.SGD(model.encoder.parameters(), lr=0.02, momentum=0.9)
    opt_head = torch.optim.Adam(model.head.parameters(), lr=3e-3)

    xtr, ytr = topic_docs(320, args.vocab, args.seq_len, seed=1)
    xva, yva = topic_docs(96, args.vocab, args.seq_len, seed=2)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=40, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=48)

    for epoch in range(args.epochs):
        frozen = epoch < args.freeze_epochs
        set_requires_grad(model.encoder, not frozen)
        model.train()
        total, n = 0.0, 0
        for x, y in train_loader:
            opt_encoder.zero_grad()
            opt_head.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt_encoder.step()
            opt_head.step()
            total += loss.item() * y.size(0)
            n += y.size(0)

        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        print(f"epoch {epoch} ({'encoder frozen' if frozen else 'full fine-tune'}): "
              f"train loss {total / n:.4f}  val acc {correct / len(val_loader.dataset):.3f}")


if __name__ == "__main__":
    main()
