"""Small BatchNorm CNN on synthetic "blob vs ring" 16x16 images, validated every few steps.

Step-based validation: every --val_every optimizer steps the model is scored on a fixed number
of validation batches pulled with next() from a fresh iterator (the loader is not exhausted),
and the best checkpoint is kept in memory.
"""
import argparse
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_images(n, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    labels = torch.randint(0, 2, (n,), generator=g)
    cx = 0.4 * (torch.rand(n, generator=g) - 0.5)
    cy = 0.4 * (torch.rand(n, generator=g) - 0.5)
    r = torch.sqrt((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2)
    blob = torch.exp(-(r / 0.35) ** 2)
    ring = torch.exp(-((r - 0.55) / 0.12) ** 2)
    img = torch.where(labels[:, None, None].bool(), ring, blob)
    img = img + 0.3 * torch.randn(n, size, size, generator=g)
    return img.unsqueeze(1), labels


def conv_bn(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn(1, 8), nn.MaxPool2d(2), conv_bn(8, 16), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(16, 2))

    def forward(self, x):
        return self.head(self.features(x))


def evaluate(model, val_loader, num_batches):
    model.eval()
    val_iter = iter(val_loader)
    loss_sum, correct, seen = 0.0, 0, 0
    with torch.inference_mode():
        for _ in range(num_batches):
            images, labels = next(val_iter)
            logits = model(images)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            seen += labels.numel()
    model.train()
    return loss_sum / seen, correct / seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=24)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--val_every", type=int, default=4)
    parser.add_argument("--val_batches", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)

    images, labels = make_images(480)
    train_loader = DataLoader(TensorDataset(images[:192], labels[:192]), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(images[192:], labels[192:]), batch_size=48, shuffle=True)
    num_val_batches = min(args.val_batches, len(val_loader))

    model = SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))

    best_acc, best_state, global_step = -1.0, None, 0
    model.train()
    for epoch in range(args.epochs):
        for images_b, labels_b in train_loader:
            loss = F.cross_entropy(model(images_b), labels_b)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            global_step += 1

            if global_step % args.val_every == 0:
                val_loss, val_acc = evaluate(model, val_loader, num_val_batches)
                print(f"epoch {epoch} step {global_step}: train loss {loss.item():.4f} "
                      f"val loss {val_loss:.4f} acc {val_acc:.3f}")
                if val_acc > best_acc:
                    best_acc, best_state = val_acc, copy.deepcopy(model.state_dict())

    model.load_state_dict(best_state)
    print(f"best val acc {best_acc:.3f}")


if __name__ == "__main__":
    main()
