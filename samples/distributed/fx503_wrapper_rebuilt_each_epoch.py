"""A trainer that wraps its module in a new DistributedDataParallel at the start of every epoch
(launched with torchrun). Each new wrapper re-broadcasts rank 0's weights and registers its
gradient hooks again; a wrapper is meant to be built once, before training.

    fxcheck trace --nproc-per-node 2 samples/distributed/fx503_wrapper_rebuilt_each_epoch.py
"""
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


class Trainer:
    def __init__(self, net: nn.Module, loader: DataLoader, sampler: DistributedSampler) -> None:
        self.net, self.loader, self.sampler = net, loader, sampler
        self.optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def train_epoch(self, epoch: int) -> float:
        self.sampler.set_epoch(epoch)
        model = DDP(self.net)  # expect: FX503
        total = 0.0
        for xb, yb in self.loader:
            self.optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        return total / len(self.loader)


def main() -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    data = TensorDataset(x, x.pow(2).sum(1, keepdim=True))
    sampler = DistributedSampler(data, shuffle=True)
    trainer = Trainer(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)),
                      DataLoader(data, batch_size=16, sampler=sampler), sampler)
    for epoch in range(3):
        loss = trainer.train_epoch(epoch)
        if dist.get_rank() == 0:
            print(f"epoch {epoch}: {loss:.4f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
