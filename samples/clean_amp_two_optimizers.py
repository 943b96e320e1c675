"""Train an MLP backbone (AdamW) and a linear head (SGD) with separate optimizers under AMP.

One GradScaler serves both optimizers: the backbone's gradients are unscaled and clipped,
then scaler.step() runs for each optimizer and scaler.update() once per iteration.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=40, n_classes=7):
    centers = 1.5 * torch.randn(n_classes, n_features)
    y = torch.randint(0, n_classes, (n_samples,))
    x = centers[y] + torch.randn(n_samples, n_features)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="two optimizers, one GradScaler")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backbone-lr", type=float, default=5e-4)
    parser.add_argument("--head-lr", type=float, default=0.05)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16

    x, y = make_dataset(480)
    train_loader = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=48,
                            shuffle=False, num_workers=0)

    backbone = nn.Sequential(
        nn.Linear(40, 128), nn.LayerNorm(128), nn.GELU(),
        nn.Linear(128, 64), nn.GELU(),
    ).to(device)
    head = nn.Linear(64, 7).to(device)

    opt_backbone = torch.optim.AdamW(backbone.parameters(), lr=args.backbone_lr, weight_decay=0.01)
    opt_head = torch.optim.SGD(head.parameters(), lr=args.head_lr, momentum=0.9)
    scaler = torch.amp.GradScaler(device)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        backbone.train()
        head.train()
        running, seen = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            opt_backbone.zero_grad(set_to_none=True)
            opt_head.zero_grad(set_to_none=True)

            with torch.autocast(device_type=device, dtype=amp_dtype):
                logits = head(backbone(inputs))
                loss = criterion(logits, targets)
            scaler.scale(loss).backward()

            scaler.unscale_(opt_backbone)
            torch.nn.utils.clip_grad_norm_(backbone.parameters(), args.max_grad_norm)
            scaler.step(opt_backbone)
            scaler.step(opt_head)
            scaler.update()

            running += loss.item() * inputs.size(0)
            seen += inputs.size(0)

        backbone.eval()
        head.eval()
        val_loss, correct, n_val = 0.0, 0, 0
        with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = head(backbone(inputs))
                val_loss += criterion(logits, targets).item() * inputs.size(0)
                correct += (logits.argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {running / seen:.4f}  "
              f"val_loss {val_loss / n_val:.4f}  val_acc {correct / n_val:.3f}  "
              f"scale {scaler.get_scale():.0f}")


if __name__ == "__main__":
    main()
