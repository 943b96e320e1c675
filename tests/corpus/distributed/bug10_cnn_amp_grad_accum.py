"""Small CNN on synthetic 16x16 images, bf16 autocast + gradient accumulation.

Runs two CPU ranks with gloo via torch.multiprocessing.spawn:

    python bug10_cnn_amp_grad_accum.py --epochs 3 --accum-steps 4
"""
import argparse
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--accum-steps", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--num-images", type=int, default=768)
    parser.add_argument("--num-classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthetic_images(n, num_classes, seed):
    """Each class is a blurred blob at a class-specific position plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    centers = torch.tensor([[4.0, 4.0], [4.0, 11.0], [11.0, 4.0], [11.0, 11.0]])
    c = centers[labels % 4]
    blobs = torch.exp(-((yy - c[:, 0, None, None]) ** 2 + (xx - c[:, 1, None, None]) ** 2) / 8.0)
    images = blobs.unsqueeze(1) + 0.3 * torch.randn(n, 1, 16, 16, generator=g)
    return TensorDataset(images, labels)


class SmallCNN(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def train(rank, world_size, port, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)

    dataset = synthetic_images(args.num_images, args.num_classes, args.seed)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True)
    loader = DataLoader(dataset, batch_size=args.micro_batch, sampler=sampler, num_workers=0)

    model = DDP(SmallCNN(args.num_classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    scaler = torch.amp.GradScaler("cpu")
    criterion = nn.CrossEntropyLoss()

    if rank == 0:
        print(f"{len(loader)} micro-batches per rank per epoch, "
              f"effective batch {args.micro_batch * args.accum_steps * world_size}")

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        start = time.time()
        loss_sum = torch.zeros(1)
        correct = torch.zeros(1)
        seen = torch.zeros(1)

        optimizer.zero_grad(set_to_none=True)
        for i, (images, labels) in enumerate(loader):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(images)
                loss = criterion(logits, labels)
            scaler.scale(loss / args.accum_steps).backward()

            if (i + 1) % args.accum_steps == 0 or (i + 1) == len(loader):
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)

            loss_sum += loss.detach().float() * labels.size(0)
            correct += (logits.argmax(1) == labels).sum()
            seen += labels.size(0)
        scheduler.step()

        metrics = torch.cat([loss_sum, correct, seen])
        dist.all_reduce(metrics)
        if rank == 0:
            print(f"[epoch {epoch}] loss={metrics[0] / metrics[2]:.4f} "
                  f"acc={metrics[1] / metrics[2]:.3f} lr={scheduler.get_last_lr()[0]:.2e} "
                  f"({time.time() - start:.1f}s)")

    dist.destroy_process_group()


def main():
    args = get_args()
    port = free_port()
    mp.spawn(train, args=(args.world_size, port, args), nprocs=args.world_size, join=True)


if __name__ == "__main__":
    main()
