"""nanoGPT-style iteration loop (no DataLoader, no epochs) under bfloat16 autocast with a GradScaler:
every `eval_interval` iterations the loss is estimated and a checkpoint written with the model and
optimizer state but not the scaler's. A resume restarts the loss scale. fxcheck's cut falls right
after the first save (--steps 10, eval_interval 10): the loop would have gone on, so it is a resume
point all the same."""
import argparse
import os
import tempfile

import torch
from torch import nn
from torch.nn import functional as F


class CharMLP(nn.Module):
    def __init__(self, vocab: int, block: int, width: int = 64) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 16)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16 * block, width), nn.GELU(), nn.Dropout(0.1),
                                 nn.Linear(width, vocab))

    def forward(self, idx, targets=None):
        logits = self.net(self.emb(idx))
        return logits, (None if targets is None else F.cross_entropy(logits, targets))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-iters", type=int, default=40)
    parser.add_argument("--eval-interval", type=int, default=10)
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args()
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="fx601-")
    torch.manual_seed(0)
    vocab, block = 20, 8
    data = torch.randint(0, vocab, (4000,))
    train, val = data[:3600], data[3600:]

    def get_batch(split):
        src = train if split == "train" else val
        ix = torch.randint(len(src) - block - 1, (16,))
        return torch.stack([src[i : i + block] for i in ix]), src[ix + block]

    model = CharMLP(vocab, block)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cpu")

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = {}
        for split in ("train", "val"):
            losses = [model(*get_batch(split))[1].item() for _ in range(3)]
            out[split] = sum(losses) / len(losses)
        model.train()
        return out

    for iter_num in range(args.max_iters + 1):
        if iter_num % args.eval_interval == 0 and iter_num > 0:
            losses = estimate_loss()
            print(f"iter {iter_num}: train {losses['train']:.3f} val {losses['val']:.3f}")
            checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "iter_num": iter_num}
            torch.save(checkpoint, os.path.join(out_dir, "ckpt.pt"))  # expect: FX601
        x, y = get_batch("train")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _, loss = model(x, y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
