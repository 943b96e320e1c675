"""BatchNorm CNN on synthetic 12x12 "bar orientation" images, pytorch/examples imagenet style.

train() and validate() build fresh AverageMeter objects for every pass, the LR follows a StepLR
schedule, and whenever validation accuracy improves the weights are exported with
``torch.save(model.state_dict(), "best_model.pt")`` for later inference (training just goes on).
"""
import argparse
import os
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class AverageMeter:
    def __init__(self, name, fmt=":f"):
        self.name, self.fmt = name, fmt
        self.reset()

    def reset(self):
        self.val = self.avg = self.sum = 0.0
        self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self):
        return ("{name} {val" + self.fmt + "} ({avg" + self.fmt + "})").format(**self.__dict__)


def accuracy(output, target):
    return (output.argmax(1) == target).float().mean().item() * 100.0


def bars(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = 0.4 * torch.randn(n, 1, 12, 12, generator=g)
    for i in range(n):
        k = torch.randint(2, 10, (1,), generator=g).item()
        c = y[i].item()
        if c == 0:
            x[i, 0, k, :] += 1.5
        elif c == 1:
            x[i, 0, :, k] += 1.5
        elif c == 2:
            x[i, 0].diagonal().add_(1.5)
        else:
            x[i, 0].flip(1).diagonal().add_(1.5)
    return x, y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(32 * 3 * 3, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(self.drop(torch.flatten(x, 1)))


def train(loader, model, criterion, optimizer, epoch, print_freq):
    batch_time = AverageMeter("Time", ":6.3f")
    losses = AverageMeter("Loss", ":.4e")
    top1 = AverageMeter("Acc@1", ":6.2f")
    model.train()
    end = time.time()
    for i, (images, target) in enumerate(loader):
        output = model(images)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.update(loss.item(), images.size(0))
        top1.update(accuracy(output, target), images.size(0))
        batch_time.update(time.time() - end)
        end = time.time()
        if i % print_freq == 0:
            print(f"Epoch: [{epoch}][{i}/{len(loader)}]  {batch_time}  {losses}  {top1}")


def validate(loader, model, criterion):
    losses = AverageMeter("Loss", ":.4e")
    top1 = AverageMeter("Acc@1", ":6.2f")
    model.eval()
    with torch.no_grad():
        for images, target in loader:
            output = model(images)
            losses.update(criterion(output, target).item(), images.size(0))
            top1.update(accuracy(output, target), images.size(0))
    print(f" * Acc@1 {top1.avg:.3f}  Loss {losses.avg:.4f}")
    return top1.avg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--print_freq", type=int, default=4)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.manual_seed(0)
    out_dir = args.out or tempfile.mkdtemp(prefix="bars_")

    xtr, ytr = bars(320, seed=1)
    xva, yva = bars(128, seed=2)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=32, shuffle=True)
    val_loader = DataLoader(TensorDataset(xva, yva), batch_size=64)

    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    best_acc1 = 0.0
    for epoch in range(args.epochs):
        train(train_loader, model, criterion, optimizer, epoch, args.print_freq)
        acc1 = validate(val_loader, model, criterion)
        scheduler.step()
        if acc1 > best_acc1:
            best_acc1 = acc1
            torch.save(model.state_dict(), os.path.join(out_dir, "best_model.pt"))
            print(f"new best {best_acc1:.2f}, exported best_model.pt")

    model.load_state_dict(torch.load(os.path.join(out_dir, "best_model.pt")))
    print(f"best val acc {validate(val_loader, model, criterion):.2f}")


if __name__ == "__main__":
    main()
