"""DDP launched with torchrun: after wrapping, the script round-trips the module through float64
(to initialise it in double precision) and back. The conversion gives every parameter new storage,
DDP's gradient hooks stay on the old one and never fire, and the ranks silently train apart.

    fxcheck trace --nproc-per-node 2 samples/distributed/fx505_module_converted_after_wrap.py
"""
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    data = TensorDataset(x, torch.sin(x[:, :1]) + 0.05 * torch.randn(512, 1))
    sampler = DistributedSampler(data, shuffle=True)
    loader = DataLoader(data, batch_size=16, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)))
    model.module.double()
    with torch.no_grad():
        for p in model.module.parameters():
            p.mul_(0.5)
    model.module.float()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            optimizer.step()  # expect: FX505
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
