"""Train an MLP classifier with mixed precision and gradient accumulation (4 micro-batches).

The last, shorter group of micro-batches in an epoch is stepped as well; gradients are
unscaled before clipping, and cleared only after each optimizer step.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=32, n_classes=10):
    centers = 1.5 * torch.randn(n_classes, n_features)
    y = torch.randint(0, n_classes, (n_samples,))
    x = centers[y] + torch.randn(n_samples, n_features)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="AMP + gradient accumulation")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--accum", type=int, default=4, help="micro-batches per optimizer step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16

    x, y = make_dataset(352)
    # 288 / 16 = 18 micro-batches per epoch: four full groups of 4 and a final group of 2
    train_loader = DataLoader(TensorDataset(x[:288], y[:288]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[288:], y[288:]), batch_size=32,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(32, 128), nn.GELU(), nn.Dropout(0.1),
        nn.Linear(128, 128), nn.GELU(),
        nn.Linear(128, 10),
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    scaler = torch.amp.GradScaler(device)
    criterion = nn.CrossEntropyLoss()

    optimizer.zero_grad(set_to_none=True)
    for epoch in range(args.epochs):
        model.train()
        train_loss, n_train, n_steps = 0.0, 0, 0
        for i, (inputs, targets) in enumerate(train_loader):
            inputs, targets = inputs.to(device), targets.to(device)
            with torch.autocast(device_type=device, dtype=amp_dtype):
                logits = model(inputs)
                loss = criterion(logits, targets) / args.accum
            scaler.scale(loss).backward()
            train_loss += loss.item() * args.accum * inputs.size(0)
            n_train += inputs.size(0)

            if (i + 1) % args.accum == 0 or i + 1 == len(train_loader):
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                n_steps += 1

        model.eval()
        val_loss, correct, n_val = 0.0, 0, 0
        with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = model(inputs)
                val_loss += criterion(logits, targets).item() * inputs.size(0)
                correct += (logits.argmax(dim=1) == targets).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  steps {n_steps}  train_loss {train_loss / n_train:.4f}  "
              f"val_loss {val_loss / n_val:.4f}  val_acc {correct / n_val:.3f}  scale {scaler.get_scale():.0f}")


if __name__ == "__main__":
    main()
