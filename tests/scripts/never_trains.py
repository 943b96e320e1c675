"""Builds a model and runs inference over a DataLoader: no optimizer ever steps."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # built, never stepped
with torch.no_grad():
    for (x,) in DataLoader(TensorDataset(torch.randn(32, 4)), batch_size=8):
        print(model(x).argmax(1).tolist())
