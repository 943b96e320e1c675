"""Trains batch after batch with no end in sight (an endless stream, a job a scheduler stops): prints
`training` once the first optimizer step is done, so a test can stop it from outside. With --infer it
only runs the model, forever, and never trains."""
import argparse
import itertools
import sys
import time

import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--infer", action="store_true")
args = parser.parse_args()
torch.manual_seed(0)
model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for step in itertools.count():
    x = torch.randn(16, 8)
    if args.infer:
        with torch.no_grad():
            model(x)
    else:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), x.sum(1, keepdim=True)).backward()
        optimizer.step()
    if step == 0:
        print("training" if not args.infer else "inferring", flush=True)
    time.sleep(0.01)
