"""Sentence classifier (bag of embeddings) trained with gradient accumulation over 4 micro-batches.

Bug: the running training loss adds up the losses after their division by the accumulation steps,
so the printed training loss is 4x smaller than the (undivided) validation loss.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACCUM = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    vocab, classes = 200, 3
    tokens = torch.randint(0, vocab, (640, 12))
    labels = tokens[:, 0] % classes
    train = DataLoader(TensorDataset(tokens[:512], labels[:512]), batch_size=32, shuffle=True)  # 16 batches
    val = DataLoader(TensorDataset(tokens[512:], labels[512:]), batch_size=64)
    model = nn.Sequential(nn.EmbeddingBag(vocab, 32), nn.Linear(32, classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    for epoch in range(args.epochs):
        model.train()
        train_loss = 0.0
        for i, (xb, yb) in enumerate(train):
            loss = nn.functional.cross_entropy(model(xb), yb) / ACCUM
            loss.backward()
            train_loss += loss.item()  # expect: FX403
            if (i + 1) % ACCUM == 0:
                optimizer.step()
                optimizer.zero_grad()
        model.eval()
        val_loss = 0.0
        with torch.no_grad():
            for xb, yb in val:
                val_loss += nn.functional.cross_entropy(model(xb), yb).item()
        print(f"epoch {epoch + 1}: train {train_loss / len(train):.4f}  val {val_loss / len(val):.4f}")


if __name__ == "__main__":
    main()
