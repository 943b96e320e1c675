"""Train a two-head multitask 1-D CNN (signal class + amplitude) with mixed precision.

Bug: only the classification loss goes through scaler.scale(); the amplitude loss is
backpropagated raw, so scaler.step() divides its gradients by the loss scale (65536) and
the amplitude error barely improves.
"""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_signals(n_samples, n_channels=3, length=64, n_classes=3):
    t = torch.linspace(0, 1, length)
    freqs = torch.tensor([2.0, 5.0, 9.0])
    labels = torch.randint(0, n_classes, (n_samples,))
    amplitude = 0.5 + 1.5 * torch.rand(n_samples)
    phase = 2 * torch.pi * torch.rand(n_samples, n_channels, 1)
    wave = torch.sin(2 * torch.pi * freqs[labels].view(-1, 1, 1) * t + phase)
    signals = amplitude.view(-1, 1, 1) * wave + 0.3 * torch.randn(n_samples, n_channels, length)
    return signals, labels, amplitude


class MultiTaskNet(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv1d(3, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
        )
        self.cls_head = nn.Linear(32, n_classes)
        self.amp_head = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x):
        h = self.trunk(x)
        return self.cls_head(h), self.amp_head(h).squeeze(1)


def main():
    parser = argparse.ArgumentParser(description="Multitask 1-D CNN with AMP")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--amp-weight", type=float, default=0.5)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16

    signals, labels, amplitude = make_signals(416)
    train_loader = DataLoader(TensorDataset(signals[:320], labels[:320], amplitude[:320]),
                              batch_size=args.batch_size, shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(signals[320:], labels[320:], amplitude[320:]),
                            batch_size=args.batch_size, shuffle=False, num_workers=0)

    model = MultiTaskNet().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scaler = torch.amp.GradScaler(device)
    ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()

    for epoch in range(args.epochs):
        model.train()
        cls_sum, amp_sum, n_batches = 0.0, 0.0, 0
        for inputs, targets, amps in train_loader:
            inputs, targets, amps = inputs.to(device), targets.to(device), amps.to(device)
            optimizer.zero_grad()
            with torch.autocast(device_type=device, dtype=amp_dtype):
                logits, amp_pred = model(inputs)
                cls_loss = ce(logits, targets)
                amp_loss = args.amp_weight * mse(amp_pred.float(), amps)
            scaler.scale(cls_loss).backward(retain_graph=True)
            amp_loss.backward()  # expect: FX107
            scaler.step(optimizer)
            scaler.update()
            cls_sum += cls_loss.item()
            amp_sum += amp_loss.item() / args.amp_weight
            n_batches += 1

        model.eval()
        correct, amp_err, n_val = 0, 0.0, 0
        with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
            for inputs, targets, amps in val_loader:
                inputs, targets, amps = inputs.to(device), targets.to(device), amps.to(device)
                logits, amp_pred = model(inputs)
                correct += (logits.argmax(dim=1) == targets).sum().item()
                amp_err += (amp_pred.float() - amps).pow(2).sum().item()
                n_val += inputs.size(0)

        print(f"epoch {epoch + 1}/{args.epochs}  cls_loss {cls_sum / n_batches:.4f}  "
              f"amp_mse {amp_sum / n_batches:.4f}  val_acc {correct / n_val:.3f}  "
              f"val_amp_mse {amp_err / n_val:.4f}")


if __name__ == "__main__":
    main()
