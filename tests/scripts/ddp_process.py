"""DDP on gloo with ranks the script starts as multiprocessing.Process objects (start method from
--start, fork or spawn); a data-preparation helper process runs first and is not a rank. With
--crash-rank1 rank 1 raises in its second epoch: rank 0's next all-reduce then fails too."""
import argparse
import datetime
import multiprocessing as mp
import os
import socket
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def prepare(path: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    torch.save((x, (x.sum(1) > 0).long()), path)


def train(rank: int, world: int, port: int, path: str, crash: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=20))
    ds = TensorDataset(*torch.load(path))
    sampler = DistributedSampler(ds, shuffle=True)
    loader = DataLoader(ds, batch_size=16, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for i, (xb, yb) in enumerate(loader):
            if crash and rank == 1 and epoch == 1 and i == 3:
                raise RuntimeError("rank 1 lost its data shard")
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="spawn")
    parser.add_argument("--crash-rank1", action="store_true")
    args = parser.parse_args()
    ctx = mp.get_context(args.start)
    path = os.path.abspath("data.pt")
    helper = ctx.Process(target=prepare, args=(path,))
    helper.start()
    helper.join()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ranks = [ctx.Process(target=train, args=(rank, 2, port, path, args.crash_rank1)) for rank in range(2)]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join()
    sys.exit(max(p.exitcode for p in ranks))


if __name__ == "__main__":
    main()
