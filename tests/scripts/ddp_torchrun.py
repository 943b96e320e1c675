"""DDP on gloo for a launcher (torchrun): every rank clears its gradients and calls
DistributedSampler.set_epoch each epoch. With --no-zero-grad-on-rank1 rank 1 never clears its
gradients, so it accumulates them across steps."""
import argparse

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-zero-grad-on-rank1", action="store_true")
    bug = parser.parse_args().no_zero_grad_on_rank1
    dist.init_process_group("gloo")
    rank = dist.get_rank()
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
    main()
