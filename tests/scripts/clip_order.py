"""A small AMP loop (bfloat16 autocast + enabled GradScaler) that clips after scaler.unscale_, as it
should; `--clip-before-unscale STEP` clips before it at that optimizer step only (FX104 in one cycle),
`--zero-grad-twice STEP` clears the gradients twice at that step (other events, no rule affected).
`--sleep S` waits S seconds per batch (a run slow enough to show the progress line); `--bar` shows a tqdm
bar over the batches on stderr."""
import argparse
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--clip-before-unscale", type=int, default=0, metavar="STEP")
    parser.add_argument("--zero-grad-twice", type=int, default=0, metavar="STEP")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--bar", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu")
    loader = DataLoader(TensorDataset(torch.randn(96, 8), torch.randint(0, 3, (96,))), batch_size=8, shuffle=True)
    step = 0
    for epoch in range(args.epochs):
        model.train()
        batches = loader
        if args.bar:
            from tqdm import tqdm

            batches = tqdm(loader, desc=f"epoch {epoch + 1}", file=sys.stderr)
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            if step + 1 == args.zero_grad_twice:
                opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            step += 1
            if step == args.clip_before_unscale:
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.unscale_(opt)
            else:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            if args.sleep:
                time.sleep(args.sleep)
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
