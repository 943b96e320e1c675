"""Linear-probe style transfer: a frozen CNN feature extractor (BatchNorm
statistics frozen too) with a small trainable MLP head, on an imbalanced
target dataset balanced by a WeightedRandomSampler."""
import argparse
import logging
import os
import tempfile
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

torch.set_num_threads(1)
log = logging.getLogger("probe")


def backbone_factory(width=16):
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(3), nn.Flatten(),
    )


class ProbeModel(nn.Module):
    def __init__(self, num_classes, width=16):
        super().__init__()
        self.backbone = backbone_factory(width)
        self.head = nn.Sequential(nn.Linear(2 * width * 9, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, num_classes))

    def freeze_backbone(self):
        self.backbone.requires_grad_(False)
        self.backbone.eval()

    def train(self, mode=True):
        super().train(mode)
        self.backbone.eval()  # keep frozen BN statistics fixed
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


def imbalanced_images(n, num_classes, seed):
    g = torch.Generator().manual_seed(seed)
    probs = torch.tensor([0.55, 0.25, 0.12, 0.08])[:num_classes]
    y = torch.multinomial(probs, n, replacement=True, generator=g)
    protos = torch.randn(num_classes, 3, 12, 12, generator=torch.Generator().manual_seed(77))
    x = protos[y] + 0.9 * torch.randn(n, 3, 12, 12, generator=g)
    return x, y


def run_epoch(model, loader, optimizer):
    model.train()
    tot, correct, n = 0.0, 0, 0
    for x, y in loader:
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        tot += loss.item() * y.size(0)
        correct += (logits.argmax(1) == y).sum().item()
        n += y.size(0)
    return tot / n, correct / n


@torch.no_grad()
def evaluate(model, loader, num_classes):
    model.eval()
    per_class_correct = torch.zeros(num_classes)
    per_class_total = torch.zeros(num_classes)
    for x, y in loader:
        pred = model(x).argmax(1)
        for c in range(num_classes):
            mask = y == c
            per_class_total[c] += mask.sum()
            per_class_correct[c] += (pred[mask] == c).sum()
    recall = per_class_correct / per_class_total.clamp_min(1)
    return recall.mean().item(), recall.tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-classes", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=31)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname).1s %(message)s")
    torch.manual_seed(args.seed)

    x_tr, y_tr = imbalanced_images(448, args.num_classes, seed=1)
    x_va, y_va = imbalanced_images(200, args.num_classes, seed=2)
    counts = Counter(y_tr.tolist())
    log.info("train class counts: %s", dict(sorted(counts.items())))
    sample_weights = torch.tensor([1.0 / counts[c] for c in y_tr.tolist()], dtype=torch.double)
    sampler = WeightedRandomSampler(sample_weights, num_samples=len(y_tr), replacement=True)
    train_loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=args.batch_size, sampler=sampler)
    val_loader = DataLoader(TensorDataset(x_va, y_va), batch_size=100)

    model = ProbeModel(args.num_classes)
    # (pretrained backbone weights would be loaded here)
    model.freeze_backbone()
    trainable = [p for p in model.parameters() if p.requires_grad]
    log.info("trainable tensors: %d (%d params)", len(trainable), sum(p.numel() for p in trainable))
    optimizer = torch.optim.SGD(trainable, lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    ckpt = os.path.join(tempfile.gettempdir(), "probe_head.pt")
    best = 0.0
    for epoch in range(args.epochs):
        loss, acc = run_epoch(model, train_loader, optimizer)
        scheduler.step()
        bal_acc, recalls = evaluate(model, val_loader, args.num_classes)
        log.info("epoch %d loss %.4f train_acc %.3f val_bal_acc %.3f recalls %s",
                 epoch, loss, acc, bal_acc, [round(r, 2) for r in recalls])
        if bal_acc > best:
            best = bal_acc
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "epoch": epoch}, ckpt)


if __name__ == "__main__":
    main()
