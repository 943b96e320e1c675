"""The AverageMeter training loop of clean_meters_reset_each_epoch.py with its meters built once,
before the epoch loop: from the second epoch on, the "epoch" loss and accuracy it prints average
over every batch since the start of training."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class AverageMeter:
    """Computes and stores the average and current value."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.val = 0.0
        self.avg = 0.0
        self.sum = 0.0
        self.count = 0

    def update(self, val: float, n: int = 1) -> None:
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(384, 20)
    y = (x[:, :5].sum(1) > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, top1 = AverageMeter("Loss"), AverageMeter("Acc@1")
    for epoch in range(args.epochs):
        sums = {"loss": 0.0, "correct": 0}
        model.train()
        for xb, yb in loader:
            out = model(xb)
            loss = nn.functional.cross_entropy(out, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct = (out.argmax(1) == yb).sum().item()
            losses.update(loss.item(), len(yb))  # expect: FX207
            top1.update(100.0 * correct / len(yb), len(yb))  # expect: FX207
            sums["loss"] += loss.item()
            sums["correct"] += correct
        print(f"epoch {epoch}: loss {losses.avg:.4f} acc {top1.avg:.2f} ({sums['correct']} correct)")


if __name__ == "__main__":
    main()
