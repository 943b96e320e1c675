"""Train an embedding-bag text classifier on synthetic token sequences.

Gradients are cleared at the top of every iteration, before the forward pass; the last
batch's gradients of an epoch stay on the parameters through validation and are cleared by
the first iteration of the next epoch.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_token_data(n_samples, vocab_size=200, seq_len=24, n_classes=4):
    # each class prefers its own slice of the vocabulary
    labels = torch.randint(0, n_classes, (n_samples,))
    slice_size = vocab_size // n_classes
    preferred = labels.unsqueeze(1) * slice_size + torch.randint(0, slice_size, (n_samples, seq_len))
    background = torch.randint(0, vocab_size, (n_samples, seq_len))
    use_preferred = torch.rand(n_samples, seq_len) < 0.4
    tokens = torch.where(use_preferred, preferred, background)
    return tokens, labels


class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab_size=200, dim=48, n_classes=4):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, dim, mode="mean")
        self.classifier = nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Dropout(0.2),
                                        nn.Linear(64, n_classes))

    def forward(self, tokens):
        return self.classifier(self.embedding(tokens))


def main():
    parser = argparse.ArgumentParser(description="bag-of-embeddings text classifier")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    tokens, labels = make_token_data(576)
    train_loader = DataLoader(TensorDataset(tokens[:480], labels[:480]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(tokens[480:], labels[480:]),
                            batch_size=args.batch_size, shuffle=False, num_workers=0)

    model = BagOfEmbeddings().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        model.train()
        epoch_loss, n_batches = 0.0, 0
        for batch_tokens, batch_labels in train_loader:
            optimizer.zero_grad()
            batch_tokens, batch_labels = batch_tokens.to(device), batch_labels.to(device)
            loss = criterion(model(batch_tokens), batch_labels)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
            n_batches += 1

        model.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for batch_tokens, batch_labels in val_loader:
                batch_tokens, batch_labels = batch_tokens.to(device), batch_labels.to(device)
                preds = model(batch_tokens).argmax(dim=1)
                correct += (preds == batch_labels).sum().item()
                total += batch_labels.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {epoch_loss / n_batches:.4f}  "
              f"val_acc {correct / total:.3f}")


if __name__ == "__main__":
    main()
