"""Iteration-based training on an endless stream of synthetic 2-D flow fields (no epochs, no DataLoader).

A small MLP learns to predict the divergence-free velocity of a random vortex mixture at a query
point. Batches come from a generator, the LR follows a warmup + linear-decay LambdaLR stepped each
iteration, evaluation on a fixed held-out batch runs every ``eval_every`` iterations, and a resume
checkpoint (iteration, model, optimizer, scheduler, RNG state) is written every ``ckpt_every``.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn


def vortex_batches(batch_size, n_vortices=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    while True:
        centers = torch.rand(batch_size, n_vortices, 2, generator=g) * 2 - 1
        strength = torch.randn(batch_size, n_vortices, generator=g)
        q = torch.rand(batch_size, 2, generator=g) * 2 - 1
        d = q[:, None, :] - centers
        r2 = (d ** 2).sum(-1) + 0.05
        vel = torch.stack([-d[..., 1], d[..., 0]], -1) * (strength / r2)[..., None]
        x = torch.cat([centers.flatten(1), strength, q], dim=1)
        yield x, vel.sum(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max_iters", type=int, default=40)
    ap.add_argument("--eval_every", type=int, default=5)
    ap.add_argument("--ckpt_every", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out_dir", default="")
    args = ap.parse_args()
    torch.manual_seed(0)
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="vortex_")

    model = nn.Sequential(nn.Linear(3 * 3 + 2, 128), nn.SiLU(), nn.Dropout(0.1),
                          nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)

    def lr_lambda(it):
        if it < args.warmup:
            return (it + 1) / args.warmup
        return max(0.05, 1.0 - (it - args.warmup) / max(1, args.max_iters - args.warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    stream = vortex_batches(64, seed=1)
    x_val, y_val = next(vortex_batches(256, seed=2))
    loss_fn = nn.SmoothL1Loss()

    model.train()
    for it in range(1, args.max_iters + 1):
        x, y = next(stream)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()

        if it % args.eval_every == 0:
            model.eval()
            with torch.no_grad():
                val_loss = loss_fn(model(x_val), y_val).item()
            model.train()
            print(f"iter {it:3d}  lr {scheduler.get_last_lr()[0]:.2e}  train {loss.item():.4f}  val {val_loss:.4f}")
        if it % args.ckpt_every == 0:
            torch.save({
                "iter": it,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
            }, os.path.join(out_dir, "ckpt_last.pt"))


if __name__ == "__main__":
    main()
