"""One DDP script for every launch mode: under torchrun (or `fxcheck trace --nproc-per-node`) it is a rank;
run plainly it starts two ranks itself, with torch.multiprocessing.spawn (`--start spawn`) or as forked
multiprocessing.Process objects (`--start process`). It has each FX5xx bug at once — the sampler's epoch
never set, accumulation that all-reduces every micro-batch, every fourth batch forwarded around the
wrapper, the scheduler stepped on rank 0 only (so the ranks' weights drift apart) — and with --clean none."""
import argparse
import contextlib
import multiprocessing
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

ACCUMULATE = 2


def train(rank: int, world: int, port: int, clean: bool) -> None:
    if port:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    else:
        dist.init_process_group("gloo")
        rank = dist.get_rank()
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    data = TensorDataset(x, (x.sum(1) > 0).long())
    sampler = DistributedSampler(data, shuffle=True)
    loader = DataLoader(data, batch_size=16, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    for epoch in range(3):
        if clean:
            sampler.set_epoch(epoch)
        for i, (xb, yb) in enumerate(loader):  # expect: FX501
            last = (i + 1) % ACCUMULATE == 0
            around = not clean and i % 4 == 3
            quiet = model.no_sync() if clean and not last else contextlib.nullcontext()
            with quiet:
                out = model.module(xb) if around else model(xb)  # expect: FX503
                loss = nn.functional.cross_entropy(out, yb) / ACCUMULATE
                loss.backward()  # expect: FX502
            if last:
                optimizer.step()  # expect: FX505
                optimizer.zero_grad()
        if clean or rank == 0:
            scheduler.step()  # expect: FX504
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", choices=("spawn", "process"), default="spawn")
    parser.add_argument("--clean", action="store_true")
    args = parser.parse_args()
    if "RANK" in os.environ:  # a rank of torchrun
        train(0, 0, 0, args.clean)
    elif args.start == "spawn":
        mp.spawn(train, args=(2, free_port(), args.clean), nprocs=2)
    else:
        port, fork = free_port(), multiprocessing.get_context("fork")
        ranks = [fork.Process(target=train, args=(rank, 2, port, args.clean)) for rank in range(2)]
        for p in ranks:
            p.start()
        for p in ranks:
            p.join()


if __name__ == "__main__":
    main()
