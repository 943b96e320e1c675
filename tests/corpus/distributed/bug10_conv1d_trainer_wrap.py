"""1D-conv signal classifier with a small Trainer class (torchrun + gloo).

    torchrun --nproc-per-node 2 bug10_conv1d_trainer_wrap.py --epochs 3

Synthetic signals: sine waves whose frequency band determines the class.
"""
import argparse
import math
import os
import tempfile
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args():
    parser = argparse.ArgumentParser(description="Conv1d trainer")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--num-classes", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=720)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--ckpt-dir", default=os.path.join(tempfile.gettempdir(), "conv1d_ckpt"))
    return parser.parse_args()


def make_signals(n, length, num_classes, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    freq = 1.0 + 2.0 * labels.float() + 0.5 * torch.rand(n, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    t = torch.linspace(0, 2 * math.pi, length)
    x = torch.sin(freq[:, None] * t[None, :] + phase) + 0.3 * torch.randn(n, length, generator=g)
    return TensorDataset(x.unsqueeze(1), labels)


class SignalNet(nn.Module):
    def __init__(self, num_classes, width=16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, width, kernel_size=7, padding=3),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(width, width * 2, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
        )
        self.classifier = nn.Linear(width * 2, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class Trainer:
    def __init__(self, net, dataset, args):
        self.args = args
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.net = net
        self.model = None
        self.sampler = DistributedSampler(dataset, shuffle=True, seed=args.seed)
        self.loader = DataLoader(dataset, batch_size=args.batch_size, sampler=self.sampler,
                                 num_workers=0)
        self.optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=2, gamma=0.1)
        self.loss_fn = nn.CrossEntropyLoss()

    def train_epoch(self, epoch):
        self.sampler.set_epoch(epoch)
        self.model.train()
        total_loss = torch.zeros(1)
        total_correct = torch.zeros(1)
        total_seen = torch.zeros(1)
        for step, (x, y) in enumerate(self.loader):
            self.optimizer.zero_grad(set_to_none=True)
            out = self.model(x)
            loss = self.loss_fn(out, y)
            loss.backward()
            self.optimizer.step()
            total_loss += loss.detach() * y.size(0)
            total_correct += (out.argmax(1) == y).sum()
            total_seen += y.size(0)
        self.scheduler.step()
        stats = torch.cat([total_loss, total_correct, total_seen])
        dist.all_reduce(stats)
        return (stats[0] / stats[2]).item(), (stats[1] / stats[2]).item()

    def save(self, epoch):
        if self.rank != 0:
            return
        os.makedirs(self.args.ckpt_dir, exist_ok=True)
        torch.save({"epoch": epoch, "state_dict": self.net.state_dict()},
                   os.path.join(self.args.ckpt_dir, f"epoch{epoch}.pt"))

    def fit(self):
        for epoch in range(self.args.epochs):
            t0 = time.time()
            self.model = DDP(self.net)
            loss, acc = self.train_epoch(epoch)
            self.save(epoch)
            if self.rank == 0:
                print(f"epoch {epoch}: loss={loss:.4f} acc={acc:.3f} "
                      f"lr={self.optimizer.param_groups[0]['lr']:.3g} ({time.time() - t0:.1f}s)")


def main():
    args = parse_args()
    dist.init_process_group(backend="gloo")
    torch.manual_seed(args.seed)
    dataset = make_signals(args.train_size, args.length, args.num_classes, args.seed)
    trainer = Trainer(SignalNet(args.num_classes), dataset, args)
    if dist.get_rank() == 0:
        print(f"{len(trainer.loader)} batches per rank per epoch")
    trainer.fit()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
