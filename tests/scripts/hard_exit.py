"""Trains without clearing gradients, then ends the process with os._exit (as some cluster jobs do)."""
import os
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
loader = DataLoader(TensorDataset(torch.randn(64, 4), torch.randn(64, 1)), batch_size=8, shuffle=True)
for epoch in range(2):
    for x, y in loader:
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
print("training done", flush=True)
os._exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
