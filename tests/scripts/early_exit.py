"""Parses its arguments and leaves with sys.exit(0) before training (a --dry-run that exits early)."""
import sys

import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
if "--train" not in sys.argv:
    print("dry run: configuration ok")
    sys.exit(0)
for _ in range(5):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
