"""A DDP training loop done right, launched with torchrun: set_epoch every epoch, gradient
accumulation under no_sync() for all but the last micro-batch, the scheduler stepped on every rank,
metrics all-reduced, evaluation on rank 0 through model.module in eval mode under no_grad, and a
checkpoint written by rank 0 only.

    fxcheck trace --nproc-per-node 2 samples/distributed/clean_ddp_no_sync_accumulation.py
"""
import contextlib
import os
import tempfile

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

ACCUM = 2


def main() -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    x = torch.randn(768, 12)
    y = (x[:, :4].sum(1) > 0).long()
    train_data, val_data = TensorDataset(x[:640], y[:640]), TensorDataset(x[640:], y[640:])
    sampler = DistributedSampler(train_data, shuffle=True)
    loader = DataLoader(train_data, batch_size=8, sampler=sampler)
    val_loader = DataLoader(val_data, batch_size=32)
    model = DDP(nn.Sequential(nn.Linear(12, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Dropout(0.1), nn.Linear(48, 2)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    out_dir = tempfile.mkdtemp()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        model.train()
        seen = torch.zeros(2)
        for i, (xb, yb) in enumerate(loader):
            last = (i + 1) % ACCUM == 0
            with contextlib.nullcontext() if last else model.no_sync():
                loss = nn.functional.cross_entropy(model(xb), yb) / ACCUM
                loss.backward()
            seen += torch.tensor([loss.item() * ACCUM, 1.0])
            if last:
                optimizer.step()
                optimizer.zero_grad()
        scheduler.step()
        dist.all_reduce(seen)
        if rank == 0:
            model.module.eval()
            correct = 0
            with torch.no_grad():
                for xb, yb in val_loader:
                    correct += (model.module(xb).argmax(1) == yb).sum().item()
            print(f"epoch {epoch}: train loss {seen[0] / seen[1]:.4f}, val acc {correct / len(val_data):.3f}")
            torch.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "epoch": epoch}, os.path.join(out_dir, "last.pt"))
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
