"""ResNet-style BatchNorm CNN on synthetic 4-class "oriented edges" images, with precise BN.

Before every validation pass the BatchNorm running statistics are recomputed exactly (as in
pycls / detectron2 "precise BN"): running stats are reset, momentum is switched to a cumulative
average, and a few training batches are forwarded in train mode without gradients. The model is
then put in eval mode for validation.
"""
import argparse
import itertools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_edges(n, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    ang = labels.float() * math.pi / 4 + 0.15 * torch.randn(n, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size).float() - size / 2, torch.arange(size).float() - size / 2,
                            indexing="ij")
    d = xx[None] * torch.cos(ang)[:, None, None] + yy[None] * torch.sin(ang)[:, None, None]
    img = torch.tanh(2.0 * d) + 0.6 * torch.randn(n, size, size, generator=g)
    return img.unsqueeze(1), labels


class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(out)))


class TinyResNet(nn.Module):
    def __init__(self, c=12, n_classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.block = BasicBlock(c)
        self.fc = nn.Linear(c, n_classes)

    def forward(self, x):
        x = self.block(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


@torch.no_grad()
def compute_precise_bn_stats(model, loader, num_batches):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = model.training
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the calibration batches
    model.train()
    for images, _ in itertools.islice(loader, num_batches):
        model(images)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    model.train(was_training)


@torch.no_grad()
def validate(model, loader):
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for images, labels in loader:
        logits = model(images)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
        n += labels.numel()
    return loss_sum / n, correct / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--precise_bn_batches", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(8)

    images, labels = make_edges(448)
    train_loader = DataLoader(TensorDataset(images[:256], labels[:256]), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(images[256:], labels[256:]), batch_size=64)

    model = TinyResNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2], gamma=0.1)

    for epoch in range(args.epochs):
        model.train()
        running = 0.0
        for images_b, labels_b in train_loader:
            loss = F.cross_entropy(model(images_b), labels_b)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
        scheduler.step()

        compute_precise_bn_stats(model, train_loader, args.precise_bn_batches)
        val_loss, val_acc = validate(model, val_loader)
        print(f"epoch {epoch}: train loss {running / len(train_loader):.4f} | "
              f"val loss {val_loss:.4f} acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
