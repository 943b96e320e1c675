"""Train a small CNN on synthetic 1x16x16 "digit-like" images with mixed precision.

Bug: clip_grad_norm_ runs while the gradients are still multiplied by the loss scale (no
scaler.unscale_(optimizer) before it), so every batch is clipped against a norm inflated by
65536 and the gradients the optimizer finally sees have norm max_norm / 65536.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_images(n_samples, n_classes=4, size=16):
    templates = torch.randn(n_classes, 1, size, size)
    labels = torch.randint(0, n_classes, (n_samples,))
    images = templates[labels] + 0.8 * torch.randn(n_samples, 1, size, size)
    return images, labels


class SmallCNN(nn.Module):
    def __init__(self, n_classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32 * 4 * 4, n_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def main():
    parser = argparse.ArgumentParser(description="Small CNN with AMP")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16

    images, labels = make_images(416)
    train_loader = DataLoader(TensorDataset(images[:320], labels[:320]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(images[320:], labels[320:]),
                            batch_size=args.batch_size, shuffle=False, num_workers=0)

    model = SmallCNN().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(device)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        model.train()
        total_loss, total = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device, dtype=amp_dtype):
                logits = model(inputs)
                loss = criterion(logits, targets)
            scaler.scale(loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)  # expect: FX104
            scaler.step(optimizer)
            scaler.update()
            total_loss += loss.item() * inputs.size(0)
            total += inputs.size(0)

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                correct += (model(inputs).argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {total_loss / total:.4f}  "
              f"val_acc {correct / n_val:.3f}  scale {scaler.get_scale():.0f}")


if __name__ == "__main__":
    main()
