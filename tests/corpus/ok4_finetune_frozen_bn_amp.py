"""Two-stage transfer learning with frozen BatchNorm statistics.

Stage 1 pretrains a small BatchNorm CNN backbone on a source task and saves a
checkpoint (temp dir). Stage 2 reloads it, attaches a new dropout head and
fine-tunes on a small target task with bfloat16 autocast + GradScaler, keeping
the backbone BatchNorm layers in eval mode (running stats and affine frozen).
"""
import argparse
import math
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_blobs_images(n, num_classes, size=10, seed=0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    centers = torch.stack(
        [
            torch.tensor([2.0 + 6.0 * math.cos(2 * math.pi * k / num_classes), 5.0 + 3.0 * math.sin(2 * math.pi * k / num_classes)])
            for k in range(num_classes)
        ]
    )
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    c = centers[labels] + 0.7 * torch.randn(n, 2, generator=g)
    d2 = (xx[None] - c[:, 0, None, None]) ** 2 + (yy[None] - c[:, 1, None, None]) ** 2
    images = torch.exp(-d2 / 4.0) + shift + 0.3 * torch.randn(n, size, size, generator=g)
    return images.unsqueeze(1), labels


class Backbone(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.stage = nn.Sequential(
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = 2 * width

    def forward(self, x):
        return self.pool(self.stage(self.stem(x))).flatten(1)


class Classifier(nn.Module):
    def __init__(self, backbone, num_classes, p_drop=0.3):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(p_drop), nn.Linear(backbone.out_dim, num_classes))

    def forward(self, x):
        return self.head(self.backbone(x))


def freeze_bn(module):
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


def pretrain(model, loader, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"[pretrain] epoch {epoch + 1} loss {total / len(loader):.4f}")


def finetune_one_epoch(model, loader, optimizer, scaler):
    model.train()
    freeze_bn(model.backbone)
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total += loss.item()
    return total / len(loader)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct, n = 0, 0
    for x, y in loader:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
        correct += (logits.argmax(1) == y).sum().item()
        n += y.numel()
    return correct / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()

    torch.manual_seed(17)
    src_loader = DataLoader(TensorDataset(*make_blobs_images(640, 6, seed=1)), batch_size=64, shuffle=True)
    tgt_train = DataLoader(
        TensorDataset(*make_blobs_images(384, 3, seed=2, shift=0.1)), batch_size=args.batch_size, shuffle=True
    )
    tgt_val = DataLoader(TensorDataset(*make_blobs_images(128, 3, seed=3, shift=0.1)), batch_size=32)

    with tempfile.TemporaryDirectory() as ckpt_dir:
        source_model = Classifier(Backbone(), num_classes=6)
        pretrain(source_model, src_loader, args.pretrain_epochs, lr=0.05)
        ckpt_path = os.path.join(ckpt_dir, "backbone.pt")
        torch.save(source_model.backbone.state_dict(), ckpt_path)

        backbone = Backbone()
        backbone.load_state_dict(torch.load(ckpt_path, weights_only=True))

    model = Classifier(backbone, num_classes=3)
    freeze_bn(model.backbone)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    scaler = torch.amp.GradScaler("cpu")

    print(f"zero-shot head acc {evaluate(model, tgt_val):.3f}")
    for epoch in range(1, args.epochs + 1):
        loss = finetune_one_epoch(model, tgt_train, optimizer, scaler)
        scheduler.step()
        acc = evaluate(model, tgt_val)
        print(f"[finetune] epoch {epoch} loss {loss:.4f} val acc {acc:.3f}")


if __name__ == "__main__":
    main()
