"""Train an MLP classifier with mixed precision, AdamW, cosine LR and resumable checkpoints.

A run always resumes from `last.pt` in the checkpoint folder: a fresh folder first gets an
initial checkpoint, which is then loaded like any other. Each checkpoint holds the model,
optimizer, scheduler and GradScaler state, so a restart continues exactly where it stopped.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=32, n_classes=6):
    w = torch.randn(n_features, n_classes)
    x = torch.randn(n_samples, n_features)
    y = (torch.tanh(x) @ w + 0.4 * torch.randn(n_samples, n_classes)).argmax(dim=1)
    return x, y


def save_checkpoint(path, epoch, model, optimizer, scheduler, scaler):
    torch.save({
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
    }, path)


def load_checkpoint(path, model, optimizer, scheduler, scaler, device):
    ckpt = torch.load(path, map_location=device)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    scaler.load_state_dict(ckpt["scaler"])
    return ckpt["epoch"] + 1


def main():
    parser = argparse.ArgumentParser(description="Resumable AMP training")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--ckpt-dir", default=None, help="checkpoint folder (default: a new temp dir)")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16
    ckpt_dir = args.ckpt_dir or tempfile.mkdtemp(prefix="resume_ckpt_")
    os.makedirs(ckpt_dir, exist_ok=True)
    last_path = os.path.join(ckpt_dir, "last.pt")

    x, y = make_dataset(576)
    train_loader = DataLoader(TensorDataset(x[:480], y[:480]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[480:], y[480:]), batch_size=48,
                            shuffle=False, num_workers=0)

    model = nn.Sequential(
        nn.Linear(32, 128), nn.GELU(), nn.Dropout(0.1),
        nn.Linear(128, 64), nn.GELU(),
        nn.Linear(64, 6),
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    scaler = torch.amp.GradScaler(device)
    criterion = nn.CrossEntropyLoss()

    if not os.path.exists(last_path):
        save_checkpoint(last_path, -1, model, optimizer, scheduler, scaler)
    start_epoch = load_checkpoint(last_path, model, optimizer, scheduler, scaler, device)
    print(f"resuming from {last_path} at epoch {start_epoch + 1}")

    for epoch in range(start_epoch, args.epochs):
        lr = scheduler.get_last_lr()[0]
        model.train()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device, dtype=amp_dtype):
                loss = criterion(model(inputs), targets)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            train_loss += loss.item() * inputs.size(0)
            n_train += inputs.size(0)
        scheduler.step()

        model.eval()
        correct, n_val = 0, 0
        with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                correct += (model(inputs).argmax(1) == targets).sum().item()
                n_val += inputs.size(0)

        save_checkpoint(last_path, epoch, model, optimizer, scheduler, scaler)
        print(f"epoch {epoch + 1}/{args.epochs}  lr {lr:.5f}  train_loss {train_loss / n_train:.4f}  "
              f"val_acc {correct / n_val:.3f}")


if __name__ == "__main__":
    main()
