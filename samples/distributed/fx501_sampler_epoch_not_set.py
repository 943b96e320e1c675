"""DDP classifier launched with torchrun: the training loader's DistributedSampler shuffles, but
set_epoch() is never called, so every epoch visits the samples in the same order on every rank.

    fxcheck trace --nproc-per-node 2 samples/distributed/fx501_sampler_epoch_not_set.py
"""
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    x = torch.randn(640, 12)
    data = TensorDataset(x, (x[:, :3].sum(1) > 0).long())
    sampler = DistributedSampler(data, shuffle=True, seed=42)
    loader = DataLoader(data, batch_size=16, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 2)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for epoch in range(4):
        for xb, yb in loader:  # expect: FX501
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        if dist.get_rank() == 0:
            print(f"epoch {epoch}: loss {loss.item():.4f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
