"""Benchmark workload: a small Transformer language model trained with a DataLoader.

Runs exactly --epochs x --batches steps and writes each step's duration (seconds) to --timings,
so `python workload.py` and `fxcheck trace workload.py` can be compared step for step.
"""
import argparse
import json
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TinyLM(nn.Module):
    def __init__(self, vocab: int, d: int, layers: int, heads: int, seq: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, seq, d))
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.1, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.embed(idx) + self.pos)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--amp", action="store_true")
    p.add_argument("--timings", required=True)
    args = p.parse_args()

    torch.manual_seed(0)
    vocab = 512
    heads = max(1, args.d // 64)
    model = TinyLM(vocab, args.d, args.layers, heads, args.seq)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * args.batches)
    scaler = torch.amp.GradScaler("cpu", enabled=args.amp)
    n = args.batch * args.batches
    data = torch.randint(0, vocab, (n, args.seq + 1))
    loader = DataLoader(TensorDataset(data[:, :-1], data[:, 1:]), batch_size=args.batch, shuffle=True)
    times = []
    for _ in range(args.epochs):
        model.train()
        for x, y in loader:
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
                loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            times.append(time.perf_counter() - t0)
    with open(args.timings, "w") as fh:
        json.dump(times, fh)


if __name__ == "__main__":
    main()
