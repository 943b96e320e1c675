"""Installs its own trace functions once training has begun, as a profiler or a debugger does: sys.settrace
after the first batch (counting the calls of train_step it sees and checking sys.gettrace returns it), and
threading.settrace for a thread it starts. Prints what its tracers saw at every step."""
import sys
import threading

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

seen = {"train_step": 0, "lines": 0, "thread": 0}


def local(frame, event, arg):
    if event == "line":
        seen["lines"] += 1
    return local


def tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "train_step":
        seen["train_step"] += 1
        return local
    return None


def thread_tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "in_thread":
        seen["thread"] += 1
    return None


def in_thread():
    return sum(range(10))


def train_step(model, opt, x, y):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss


def main():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(torch.randn(128, 4), torch.randn(128, 1)), batch_size=8, shuffle=True)
    steps = 0
    for epoch in range(3):
        for i, (x, y) in enumerate(loader):
            if epoch == 0 and i == 1:
                sys.settrace(tracer)
                threading.settrace(thread_tracer)
                worker = threading.Thread(target=in_thread)
                worker.start()
                worker.join()
            train_step(model, opt, x, y)
            steps += 1
            print(f"step {steps}: gettrace is mine {sys.gettrace() is tracer}, train_step traced "
                  f"{seen['train_step']}, lines {seen['lines']}, thread traced {seen['thread']}", flush=True)
    sys.settrace(None)


if __name__ == "__main__":
    main()
