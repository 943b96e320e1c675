"""Train a bag-of-embeddings text classifier on synthetic token sequences (4 topics) with Adam.

Bug: the Adam optimizer is rebuilt at the top of every epoch to apply a decayed learning rate,
so each epoch starts again from empty first/second moment estimates and step count 0, and the
first updates of every epoch are full-size bias-corrected steps instead of continuing the run.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_documents(n_docs, vocab_size=500, n_topics=4, doc_len=24):
    # each topic prefers its own slice of the vocabulary; the rest are shared filler tokens
    labels = torch.randint(0, n_topics, (n_docs,))
    topic_words = torch.arange(n_topics * 40).view(n_topics, 40) + 100
    filler = torch.randint(0, vocab_size, (n_docs, doc_len))
    picks = torch.randint(0, 40, (n_docs, doc_len))
    topical = topic_words[labels].gather(1, picks)
    use_topic = torch.rand(n_docs, doc_len) < 0.3
    return torch.where(use_topic, topical, filler), labels


class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab_size=500, dim=32, n_classes=4):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean")
        self.classifier = nn.Sequential(nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, n_classes))

    def forward(self, tokens):
        return self.classifier(self.embed(tokens))


def main():
    parser = argparse.ArgumentParser(description="Bag-of-embeddings topic classifier")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--lr-decay", type=float, default=0.7)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    tokens, labels = make_documents(640)
    train_loader = DataLoader(TensorDataset(tokens[:512], labels[:512]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(tokens[512:], labels[512:]),
                            batch_size=64, shuffle=False, num_workers=0)

    model = BagOfEmbeddings().to(device)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        # exponential decay: a fresh optimizer with this epoch's learning rate
        lr = args.lr * args.lr_decay ** epoch
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)  # expect: FX201

        model.train()
        train_loss, n_train = 0.0, 0
        for batch_tokens, batch_labels in train_loader:
            batch_tokens, batch_labels = batch_tokens.to(device), batch_labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(batch_tokens), batch_labels)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * batch_tokens.size(0)
            n_train += batch_tokens.size(0)

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad():
            for batch_tokens, batch_labels in val_loader:
                batch_tokens, batch_labels = batch_tokens.to(device), batch_labels.to(device)
                correct += (model(batch_tokens).argmax(1) == batch_labels).sum().item()
                n_val += batch_tokens.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  lr {lr:.5f}  train_loss {train_loss / n_train:.4f}  "
              f"val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
