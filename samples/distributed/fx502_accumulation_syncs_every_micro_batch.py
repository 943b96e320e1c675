"""DDP regression with gradient accumulation over 4 micro-batches, launched with torchrun: every
micro-batch's backward all-reduces its gradients, where only the last of each cycle needs to (the
others belong under `model.no_sync()`). The update is right; the communication is paid 4 times.

    fxcheck trace --nproc-per-node 2 samples/distributed/fx502_accumulation_syncs_every_micro_batch.py
"""
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

ACCUM = 4


def main() -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    x = torch.randn(1024, 16)
    data = TensorDataset(x, x @ torch.randn(16, 1) + 0.1 * torch.randn(1024, 1))
    sampler = DistributedSampler(data, shuffle=True)
    loader = DataLoader(data, batch_size=8, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        optimizer.zero_grad()
        for i, (xb, yb) in enumerate(loader):
            loss = nn.functional.mse_loss(model(xb), yb) / ACCUM
            loss.backward()  # expect: FX502
            if (i + 1) % ACCUM == 0:
                optimizer.step()
                optimizer.zero_grad()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
