"""Mixed-precision training on a chosen device: float16 autocast on CUDA, bfloat16 on CPU, an enabled GradScaler.

`--bug` puts one AMP mistake into the training step; the line where fxcheck should report it is
marked `# expect[BUG]: FXnnn`. The first step prints the dtype autocast really produced and
whether the scaler is enabled, so a test can tell that the device's AMP path was exercised.
"""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BUGS = ("none", "clip-before-unscale", "scaler-bypassed", "unscaled-backward", "no-update")
AMP_DTYPE = {"cuda": torch.float16, "cpu": torch.bfloat16}


def train_step(model, batch, optimizer, scaler, device, bug):
    inputs, targets = (t.to(device) for t in batch)
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type=device, dtype=AMP_DTYPE[device]):
        logits = model(inputs)
        loss = nn.functional.cross_entropy(logits, targets)
    penalty = 1e-4 * sum(p.pow(2).sum() for p in model.parameters())  # weight penalty, in float32
    if bug == "unscaled-backward":
        scaler.scale(loss).backward()
        penalty.backward()  # expect[unscaled-backward]: FX107
    else:
        scaler.scale(loss + penalty).backward()
    if bug == "scaler-bypassed":
        optimizer.step()  # expect[scaler-bypassed]: FX106
        return loss, logits.dtype
    if bug == "clip-before-unscale":
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # expect[clip-before-unscale]: FX104
        scaler.unscale_(optimizer)
    else:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)  # expect[no-update]: FX108
    if bug != "no-update":
        scaler.update()
    return loss, logits.dtype


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")

    torch.manual_seed(0)
    x = torch.randn(384, 32)
    y = (x[:, :4].sum(dim=1) > 0).long() + 2 * (x[:, 4] > 0).long()
    train_loader = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=16, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[320:], y[320:]), batch_size=32)

    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 4)).to(args.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler(args.device, enabled=True)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)

    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for i, batch in enumerate(train_loader):
            loss, amp_dtype = train_step(model, batch, optimizer, scaler, args.device, args.bug)
            if epoch == 0 and i == 0:
                print(f"amp_smoke: device={args.device} autocast_dtype={str(amp_dtype).removeprefix('torch.')} "
                      f"scaler_enabled={scaler.is_enabled()} cuda_device={torch.cuda.get_device_name() if args.device == 'cuda' else '-'}",
                      flush=True)
            total += loss.item()
        scheduler.step()

        model.eval()
        correct = 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(args.device), targets.to(args.device)
                correct += (model(inputs).argmax(dim=1) == targets).sum().item()
        print(f"epoch {epoch + 1}: train_loss {total / len(train_loader):.4f} val_acc {correct / 64:.3f} "
              f"scale {scaler.get_scale():.0f}")


if __name__ == "__main__":
    main()
