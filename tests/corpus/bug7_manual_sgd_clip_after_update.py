"""Tabular regression MLP trained with a hand-written SGD update (no torch.optim).

pytorch/examples-style argparse script. The gradient-norm clip is called after
the parameters have already been updated by hand (its return value is only
used for logging), so it rescales gradients that are about to be discarded
and never limits an update.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, d_in=32, hidden=128):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)

    def forward(self, x):
        x = F.gelu(self.fc1(x))
        x = F.gelu(self.fc2(x))
        return self.fc3(x).squeeze(-1)


def make_dataset(n, d_in, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_in, generator=g)
    w = torch.randn(d_in, generator=g) / d_in ** 0.5
    y = torch.sin(x @ w) + 0.05 * torch.randn(n, generator=g)
    return TensorDataset(x, y)


def train(args, model, train_loader, epoch):
    model.train()
    running = 0.0
    for batch_idx, (data, target) in enumerate(train_loader):
        output = model(data)
        loss = F.mse_loss(output, target)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            if p.grad is not None:
                p.data.add_(p.grad, alpha=-args.lr)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        running += loss.item()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{}]\tLoss: {:.6f}\tgrad norm: {:.3f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                loss.item(), grad_norm.item()))
    return running / len(train_loader)


def test(model, test_loader):
    model.eval()
    test_loss = 0.0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.mse_loss(output, target, reduction='sum').item()
    test_loss /= len(test_loader.dataset)
    print('Test set: Average loss: {:.4f}'.format(test_loss))
    return test_loss


def main():
    parser = argparse.ArgumentParser(description='Hand-rolled SGD regression example')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--test-batch-size', type=int, default=256)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--lr', type=float, default=0.05)
    parser.add_argument('--max-grad-norm', type=float, default=1.0)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=4)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    train_set = make_dataset(512, 32, seed=0)
    test_set = make_dataset(256, 32, seed=1)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)

    model = Net()
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        train_loss = train(args, model, train_loader, epoch)
        test_loss = test(model, test_loader)
        print('epoch {} train {:.4f} test {:.4f} ({:.1f}s)'.format(
            epoch, train_loss, test_loss, time.time() - t0))


if __name__ == '__main__':
    main()
