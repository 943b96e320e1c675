"""DDP on gloo with ranks started by the script itself (torch.multiprocessing.spawn), as in most DDP
tutorials: each rank sets up its process group, trains with a DistributedSampler and set_epoch. With
--no-zero-grad-on-rank1 rank 1 never clears its gradients."""
import argparse
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def train(rank: int, world: int, port: int, bug: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    ds = TensorDataset(x, (x.sum(1) > 0).long())
    sampler = DistributedSampler(ds, shuffle=True)
    loader = DataLoader(ds, batch_size=16, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            if not (bug and rank == 1):
                optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-zero-grad-on-rank1", action="store_true")
    a = parser.parse_args()
    mp.spawn(train, args=(2, a.port, a.no_zero_grad_on_rank1), nprocs=2)
