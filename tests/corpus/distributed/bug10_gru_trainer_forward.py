"""GRU sequence classifier trained with DDP on two CPU processes.

Task: decide whether the running sum of the first feature ever exceeds a threshold.
Each rank is started with multiprocessing (spawn context):

    python bug10_gru_trainer_forward.py --epochs 3
"""
import argparse
import multiprocessing
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="DDP GRU classifier")
    ap.add_argument("--world-size", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=20)
    ap.add_argument("--features", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=2024)
    return ap.parse_args(argv)


def pick_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def build_dataset(samples, seq_len, features, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, seq_len, features, generator=g)
    running = x[:, :, 0].cumsum(dim=1)
    y = (running.max(dim=1).values > 3.0).long()
    return TensorDataset(x, y)


class GRUClassifier(nn.Module):
    def __init__(self, features, hidden, num_classes=2):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=1, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])


class Trainer:
    def __init__(self, net, train_set, args, rank, world_size):
        self.rank = rank
        self.world_size = world_size
        self.args = args
        self.net = net
        self.model = DDP(net)
        self.sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank,
                                          shuffle=True, seed=args.seed)
        self.loader = DataLoader(train_set, batch_size=args.batch_size, sampler=self.sampler,
                                 num_workers=0, drop_last=True)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=0.7)
        self.criterion = nn.CrossEntropyLoss()

    def log(self, msg):
        if self.rank == 0:
            print(msg, flush=True)

    def train_epoch(self, epoch):
        self.sampler.set_epoch(epoch)
        self.model.train()
        totals = torch.zeros(3)  # loss sum, correct, count
        for seqs, labels in self.loader:
            self.optimizer.zero_grad()
            logits = self.net(seqs)
            loss = self.criterion(logits, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            totals += torch.tensor([loss.item() * labels.numel(),
                                    (logits.argmax(-1) == labels).sum().item(),
                                    labels.numel()])
        self.scheduler.step()
        dist.all_reduce(totals)
        return totals[0].item() / totals[2].item(), totals[1].item() / totals[2].item()

    def fit(self):
        self.log(f"training on {self.world_size} ranks, {len(self.loader)} steps/epoch")
        for epoch in range(self.args.epochs):
            t0 = time.time()
            loss, acc = self.train_epoch(epoch)
            self.log(f"epoch {epoch + 1}: loss {loss:.4f} acc {acc:.3f} "
                     f"lr {self.scheduler.get_last_lr()[0]:.2e} [{time.time() - t0:.1f}s]")


def worker(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group(backend="gloo", rank=rank, world_size=world_size)
    try:
        torch.manual_seed(args.seed)
        train_set = build_dataset(args.samples, args.seq_len, args.features, args.seed)
        net = GRUClassifier(args.features, args.hidden)
        Trainer(net, train_set, args, rank, world_size).fit()
    finally:
        dist.destroy_process_group()


def main():
    args = parse_args()
    port = pick_port()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker, args=(rank, args.world_size, port, args))
             for rank in range(args.world_size)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    if any(code != 0 for code in codes):
        print(f"worker exit codes: {codes}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
