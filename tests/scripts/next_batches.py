"""Batches taken with next() a fixed number of times, no StopIteration handled: an early end would crash."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x, y = torch.randn(96, 8), torch.randint(0, 2, (96,))
train_loader = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=4, shuffle=True)  # 16 batches
val_loader = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=8)  # 4 batches
model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    model.train()
    it = iter(train_loader)
    for _ in range(16):
        xb, yb = next(it)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    model.eval()
    val_it = iter(val_loader)
    with torch.no_grad():
        for _ in range(3):  # three of the four validation batches
            xb, yb = next(val_it)
            model(xb)
print("done")
