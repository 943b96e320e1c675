"""Fine-tune a small pretrained-style CNN on a new 5-class task.

Recipe: keep the convolutional backbone frozen, adapt only the BatchNorm
affine parameters to the new domain and train the new classification head.
"""
import argparse
import logging
import os
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("bn_finetune")
torch.set_num_threads(1)  # tiny model: intra-op threading only adds overhead


def parse_args():
    p = argparse.ArgumentParser(description="BN-adaptation fine-tuning")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--num-classes", type=int, default=5)
    p.add_argument("--n-train", type=int, default=448)
    p.add_argument("--n-val", type=int, default=128)
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args()


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin, cout, stride=1):
        super().__init__(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class SmallBackboneNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = ConvBNReLU(3, 16)
        self.layer1 = ConvBNReLU(16, 32, stride=2)
        self.layer2 = ConvBNReLU(32, 64, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def make_split(n, num_classes, generator):
    labels = torch.randint(0, num_classes, (n,), generator=generator)
    protos = torch.randn(num_classes, 3, 16, 16, generator=torch.Generator().manual_seed(123))
    images = protos[labels] * 0.8 + torch.randn(n, 3, 16, 16, generator=generator)
    # the target domain has a different colour statistics than "pretraining"
    images = images * 1.5 + 0.3
    return TensorDataset(images, labels)


def freeze_all_but_bn(model):
    for module in model.modules():
        keep = isinstance(module, nn.BatchNorm2d)
        for param in module.parameters(recurse=False):
            param.requires_grad = keep


def train_one_epoch(model, loader, optimizer, epoch):
    model.train()
    total_loss, total_correct, seen = 0.0, 0, 0
    for step, (images, labels) in enumerate(loader):
        optimizer.zero_grad()
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * images.size(0)
        total_correct += (logits.argmax(1) == labels).sum().item()
        seen += images.size(0)
        if step % 5 == 0:
            log.info("epoch %d step %d loss %.4f", epoch, step, loss.item())
    return total_loss / seen, total_correct / seen


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total_loss, total_correct, seen = 0.0, 0, 0
    for images, labels in loader:
        logits = model(images)
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        total_correct += (logits.argmax(1) == labels).sum().item()
        seen += images.size(0)
    return total_loss / seen, total_correct / seen


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    train_ds = make_split(args.n_train, args.num_classes, gen)
    val_ds = make_split(args.n_val, args.num_classes, gen)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=64)

    model = SmallBackboneNet(num_classes=10)
    # (weights of the source model would be loaded here)
    model.fc = nn.Linear(64, args.num_classes)  # new head for the target task
    freeze_all_but_bn(model)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("trainable parameters: %d", n_trainable)

    optimizer = torch.optim.SGD(
        model.fc.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    best_acc = 0.0
    ckpt_path = os.path.join(tempfile.gettempdir(), "bn_finetune_best.pt")
    for epoch in range(args.epochs):
        t0 = time.time()
        train_loss, train_acc = train_one_epoch(model, train_loader, optimizer, epoch)
        val_loss, val_acc = evaluate(model, val_loader)
        scheduler.step()
        log.info(
            "epoch %d train_loss %.4f train_acc %.3f val_loss %.4f val_acc %.3f (%.1fs)",
            epoch, train_loss, train_acc, val_loss, val_acc, time.time() - t0,
        )
        if val_acc > best_acc:
            best_acc = val_acc
            torch.save(
                {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
                ckpt_path,
            )
    log.info("best val acc %.3f, checkpoint at %s", best_acc, ckpt_path)


if __name__ == "__main__":
    main()
