"""CNN with BatchNorm on synthetic 3x16x16 "stripe" images.

Gradient accumulation over micro-batches, validation on rank 0, checkpointing.

    python ok10_cnn_accum_eval.py --epochs 3 --accum 2
"""
import argparse
import os
import socket
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args():
    parser = argparse.ArgumentParser(description="DDP CNN with grad accumulation")
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--accum", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--train-size", type=int, default=768)
    parser.add_argument("--val-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--ckpt", default=os.path.join(tempfile.gettempdir(), "ok10_cnn_best.pt"))
    return parser.parse_args()


def stripes(n, seed):
    """Class 0: horizontal stripes, 1: vertical, 2: diagonal; random colour and noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    r = torch.arange(16.0)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    patterns = torch.stack([torch.sin(yy * 1.2), torch.sin(xx * 1.2), torch.sin((xx + yy) * 0.9)])
    colour = torch.rand(n, 3, 1, 1, generator=g) + 0.5
    x = patterns[labels].unsqueeze(1) * colour + 0.4 * torch.randn(n, 3, 16, 16, generator=g)
    return TensorDataset(x, labels)


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2))


class StripeNet(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.body = nn.Sequential(conv_block(3, 12), conv_block(12, 24))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.body(x)).flatten(1))


@torch.no_grad()
def evaluate(net, loader):
    net.eval()
    correct, total, loss_sum = 0, 0, 0.0
    for x, y in loader:
        out = net(x)
        loss_sum += nn.functional.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        total += y.numel()
    return loss_sum / total, correct / total


def train(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)

    train_set = stripes(args.train_size, args.seed)
    val_set = stripes(args.val_size, args.seed + 1)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True)
    train_loader = DataLoader(train_set, batch_size=args.micro_batch, sampler=sampler,
                              num_workers=0, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=64, shuffle=False, num_workers=0)

    model = DDP(StripeNet())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.6)
    criterion = nn.CrossEntropyLoss()
    best_acc = 0.0

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        t0 = time.time()
        running = torch.zeros(2)
        optimizer.zero_grad(set_to_none=True)
        for i, (x, y) in enumerate(train_loader):
            sync_now = (i + 1) % args.accum == 0 or (i + 1) == len(train_loader)
            if sync_now:
                loss = criterion(model(x), y)
                (loss / args.accum).backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            else:
                with model.no_sync():
                    loss = criterion(model(x), y)
                    (loss / args.accum).backward()
            running += torch.tensor([loss.item() * y.size(0), y.size(0)])
        scheduler.step()

        dist.all_reduce(running)
        train_loss = (running[0] / running[1]).item()

        if rank == 0:
            val_loss, val_acc = evaluate(model.module, val_loader)
            print(f"epoch {epoch + 1}/{args.epochs} train_loss={train_loss:.4f} "
                  f"val_loss={val_loss:.4f} val_acc={val_acc:.3f} "
                  f"lr={scheduler.get_last_lr()[0]:.3g} ({time.time() - t0:.1f}s)")
            if val_acc >= best_acc:
                best_acc = val_acc
                torch.save({"epoch": epoch, "model": model.module.state_dict(),
                            "val_acc": val_acc}, args.ckpt)
        dist.barrier()

    dist.destroy_process_group()


def main():
    args = parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(train, args=(args.world_size, port, args), nprocs=args.world_size)


if __name__ == "__main__":
    main()
