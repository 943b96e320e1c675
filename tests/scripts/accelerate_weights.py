"""An Accelerate loop (accumulation 4, a cosine schedule sized from len(train_dl)) whose weights are
hashed after every epoch into `--out`. `--limit N` truncates the shuffled batch sampler to N batches
by hand (len() says N), the plain-run equivalent of fxcheck's --steps N."""
import argparse
import hashlib
import itertools
import json

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset


class FirstBatches(BatchSampler):
    def __init__(self, inner: BatchSampler, n: int) -> None:
        self.inner, self.n = inner, n
        self.batch_size, self.drop_last, self.sampler = inner.batch_size, inner.drop_last, inner.sampler

    def __iter__(self):
        return itertools.islice(iter(self.inner), self.n)

    def __len__(self) -> int:
        return min(self.n, len(self.inner))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True, gradient_accumulation_steps=4)
    x = torch.randn(640, 16)
    data = TensorDataset(x, (x.sum(1) > 0).long())
    batches = BatchSampler(RandomSampler(data), 16, drop_last=False)
    if args.limit:
        batches = FirstBatches(batches, args.limit)
    train_dl = DataLoader(data, batch_sampler=batches)
    model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    epochs = 3
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train_dl))
    model, optimizer, train_dl, scheduler = accelerator.prepare(model, optimizer, train_dl, scheduler)
    hashes = []
    try:
        for _ in range(epochs):
            model.train()
            for xb, yb in train_dl:
                with accelerator.accumulate(model):
                    accelerator.backward(nn.functional.cross_entropy(model(xb), yb))
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
            blob = b"".join(t.detach().numpy().tobytes() for t in model.state_dict().values())
            hashes.append(hashlib.sha256(blob).hexdigest())
    finally:  # fxcheck stops the run after the first step past its epochs: keep what was hashed
        with open(args.out, "w") as f:
            json.dump({"epochs": hashes, "len": len(train_dl)}, f)


if __name__ == "__main__":
    main()
