"""Bag-of-embeddings text classifier on synthetic token sequences (2 classes).

Structured like the torchvision reference scripts: train_one_epoch() / evaluate() helpers and a main().
"""
import argparse
import math
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

VOCAB = 500
SEQ_LEN = 24


class SyntheticReviews(Dataset):
    """Label is 1 when 'positive' tokens outnumber 'negative' tokens."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.tokens = torch.randint(1, VOCAB, (n, SEQ_LEN), generator=g)
        pos = (self.tokens < 60).sum(1)
        neg = ((self.tokens >= 60) & (self.tokens < 120)).sum(1)
        self.labels = (pos > neg).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return self.tokens[idx], self.labels[idx]


class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab, dim, num_classes):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.fc = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, num_classes))

    def forward(self, tokens):
        return self.fc(self.embedding(tokens))


def grad_norm(parameters):
    norms = [p.grad.detach().norm(2) for p in parameters if p.grad is not None]
    if not norms:
        return 0.0
    return torch.norm(torch.stack(norms), 2).item()


def train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, print_freq=5):
    model.train()
    start = time.time()
    running_loss, seen = 0.0, 0
    for i, (tokens, target) in enumerate(data_loader):
        tokens, target = tokens.to(device), target.to(device)
        output = model(tokens)
        loss = criterion(output, target)

        loss.backward()
        gnorm = grad_norm(model.parameters())
        optimizer.zero_grad()
        optimizer.step()

        running_loss += loss.item() * tokens.size(0)
        seen += tokens.size(0)
        if i % print_freq == 0:
            print(f"Epoch: [{epoch}] [{i}/{len(data_loader)}] loss: {loss.item():.4f} grad_norm: {gnorm:.3f}")
    print(f"Epoch: [{epoch}] done in {time.time() - start:.2f}s, avg loss {running_loss / seen:.4f}")


@torch.inference_mode()
def evaluate(model, criterion, data_loader, device):
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for tokens, target in data_loader:
        tokens, target = tokens.to(device), target.to(device)
        output = model(tokens)
        total_loss += criterion(output, target).item() * tokens.size(0)
        correct += (output.argmax(1) == target).sum().item()
        n += tokens.size(0)
    acc = correct / n
    print(f"Test: loss {total_loss / n:.4f} acc@1 {acc * 100:.2f}")
    return acc


def get_args_parser():
    parser = argparse.ArgumentParser(description="Text classification training", add_help=True)
    parser.add_argument("--epochs", default=3, type=int)
    parser.add_argument("--batch-size", default=32, type=int)
    parser.add_argument("--lr", default=1e-2, type=float)
    parser.add_argument("--wd", default=1e-4, type=float)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser


def main(args):
    torch.manual_seed(0)
    device = torch.device(args.device)

    train_ds = SyntheticReviews(512, seed=1)
    test_ds = SyntheticReviews(128, seed=2)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_ds, batch_size=64)

    model = BagOfEmbeddings(VOCAB, 32, 2).to(device)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)

    best = -math.inf
    for epoch in range(args.epochs):
        train_one_epoch(model, criterion, optimizer, train_loader, device, epoch)
        acc = evaluate(model, criterion, test_loader, device)
        best = max(best, acc)
    print(f"best acc@1 {best * 100:.2f}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
