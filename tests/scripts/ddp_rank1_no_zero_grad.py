"""DDP on gloo where only rank 0 clears its gradients: rank 1 accumulates them across steps."""
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset, DistributedSampler


def main():
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    ds = TensorDataset(x, (x.sum(1) > 0).long())
    sampler = DistributedSampler(ds, shuffle=True)
    dl = DataLoader(ds, batch_size=16, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for xb, yb in dl:
            if rank == 0:  # the logging rank clears; the others were meant to as well
                opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
