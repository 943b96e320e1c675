"""Text CNN (Kim-style) over frozen "pretrained" word vectors, predicting a 1-5 review rating.

The embedding table is built with nn.Embedding.from_pretrained(..., freeze=True); only the conv
filters and the classifier train. A MetricTracker (pytorch-template style) collects loss and
accuracy and is reset at the start of every epoch. A resumable checkpoint (epoch, model, optimizer
and scheduler state) is written after each epoch.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class MetricTracker:
    def __init__(self, *keys):
        self._totals = {k: 0.0 for k in keys}
        self._counts = {k: 0 for k in keys}

    def reset(self):
        for k in self._totals:
            self._totals[k] = 0.0
            self._counts[k] = 0

    def update(self, key, value, n=1):
        self._totals[key] += value * n
        self._counts[key] += n

    def avg(self, key):
        return self._totals[key] / max(self._counts[key], 1)

    def result(self):
        return {k: self.avg(k) for k in self._totals}


class TextCNN(nn.Module):
    def __init__(self, vectors, n_classes=5, n_filters=24, sizes=(2, 3, 4), dropout=0.3):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(vectors, freeze=True, padding_idx=0)
        d = vectors.size(1)
        self.convs = nn.ModuleList([nn.Conv1d(d, n_filters, k) for k in sizes])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(n_filters * len(sizes), n_classes)

    def forward(self, x):
        e = self.embedding(x).transpose(1, 2)
        pooled = [F.relu(conv(e)).amax(dim=2) for conv in self.convs]
        return self.fc(self.dropout(torch.cat(pooled, dim=1)))


def reviews(n, vocab, seq_len, seed):
    g = torch.Generator().manual_seed(seed)
    sentiment = torch.randn(vocab, generator=torch.Generator().manual_seed(123))
    sentiment[0] = 0.0
    x = torch.randint(1, vocab, (n, seq_len), generator=g)
    score = sentiment[x].mean(1) * 4 + 0.3 * torch.randn(n, generator=g)
    y = torch.bucketize(score, torch.tensor([-1.0, -0.35, 0.35, 1.0]))
    return x, y, sentiment


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=200)
    ap.add_argument("--dim", type=int, default=24)
    ap.add_argument("--run_dir", default="")
    args = ap.parse_args()
    torch.manual_seed(8)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="textcnn_")
    ckpt_path = os.path.join(run_dir, "checkpoint.pt")

    xtr, ytr, sentiment = reviews(384, args.vocab, 24, seed=0)
    xva, yva, _ = reviews(128, args.vocab, 24, seed=1)
    # "pretrained" vectors: random, with one coordinate correlated to word sentiment
    vectors = 0.5 * torch.randn(args.vocab, args.dim)
    vectors[:, 0] = sentiment
    vectors[0] = 0.0

    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=48, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=64)
    model = TextCNN(vectors)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=3e-3)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.8)
    start_epoch = 0
    if os.path.exists(ckpt_path):
        state = torch.load(ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = state["epoch"] + 1

    train_metrics = MetricTracker("loss", "acc")
    val_metrics = MetricTracker("loss", "acc")
    for epoch in range(start_epoch, args.epochs):
        model.train()
        train_metrics.reset()
        for x, y in train_loader:
            optimizer.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            train_metrics.update("loss", loss.item(), y.size(0))
            train_metrics.update("acc", (logits.argmax(1) == y).float().mean().item(), y.size(0))
        scheduler.step()

        model.eval()
        val_metrics.reset()
        with torch.no_grad():
            for x, y in val_loader:
                logits = model(x)
                val_metrics.update("loss", F.cross_entropy(logits, y).item(), y.size(0))
                val_metrics.update("acc", (logits.argmax(1) == y).float().mean().item(), y.size(0))
        tr, va = train_metrics.result(), val_metrics.result()
        print(f"epoch {epoch}: train loss {tr['loss']:.4f} acc {tr['acc']:.3f} | "
              f"val loss {va['loss']:.4f} acc {va['acc']:.3f}")
        torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict()}, ckpt_path)


if __name__ == "__main__":
    main()
