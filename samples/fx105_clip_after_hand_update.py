"""Fit a polynomial to a noisy curve with plain gradient descent written by hand (pytorch/examples'
regression style: no optimizer, `p.data.add_(-lr * p.grad)`), with gradient clipping.

Bug: the clip was moved below the update loop so its returned norm could be logged with the
loss; by then the update has already used the unclipped gradients, so a spike in the gradient
goes into the weights unclipped.
"""
import argparse

import torch
from torch import nn

POLY_DEGREE = 4


def make_features(x: torch.Tensor) -> torch.Tensor:
    """Columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def get_batch(w_target: torch.Tensor, b_target: float, batch_size: int = 32):
    x = torch.randn(batch_size)
    features = make_features(x)
    y = features @ w_target + b_target + 0.05 * torch.randn(batch_size, 1)
    return features, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--max-norm", type=float, default=1.0)
    args = parser.parse_args()

    torch.manual_seed(0)
    w_target = torch.randn(POLY_DEGREE, 1) * 0.5
    b_target = float(torch.randn(1) * 0.5)
    fc = nn.Linear(POLY_DEGREE, 1)

    for it in range(1, args.iters + 1):
        batch_x, batch_y = get_batch(w_target, b_target)
        fc.zero_grad()
        loss = nn.functional.smooth_l1_loss(fc(batch_x), batch_y)
        loss.backward()
        for param in fc.parameters():
            param.data.add_(-args.lr * param.grad)
        norm = torch.nn.utils.clip_grad_norm_(fc.parameters(), args.max_norm)  # expect: FX105
        if it % 50 == 0:
            print(f"iter {it}: loss {loss.item():.4f} grad norm {norm.item():.3f}")


if __name__ == "__main__":
    main()
