"""Fit a small MLP to a noisy 1-D function with full-batch L-BFGS.

Each outer iteration calls optimizer.step(closure); the closure clears the gradients, runs
the forward and backward pass and returns the loss, as L-BFGS re-evaluates it several
times per step.
"""
import argparse
import math

import torch
import torch.nn as nn


def make_curve(n_samples):
    x = torch.linspace(-math.pi, math.pi, n_samples).unsqueeze(1)
    y = torch.sin(2 * x) + 0.3 * x + 0.05 * torch.randn(n_samples, 1)
    return x, y


def main():
    parser = argparse.ArgumentParser(description="full-batch L-BFGS regression")
    parser.add_argument("--steps", type=int, default=8, help="outer optimizer.step(closure) calls")
    parser.add_argument("--max-iter", type=int, default=20, help="L-BFGS iterations per step")
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_curve(400)
    perm = torch.randperm(len(x))
    train_idx, val_idx = perm[:320], perm[320:]
    x_train, y_train = x[train_idx].to(device), y[train_idx].to(device)
    x_val, y_val = x[val_idx].to(device), y[val_idx].to(device)

    model = nn.Sequential(
        nn.Linear(1, args.hidden), nn.Tanh(),
        nn.Linear(args.hidden, args.hidden), nn.Tanh(),
        nn.Linear(args.hidden, 1),
    ).to(device)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=args.max_iter,
                                  history_size=10, line_search_fn="strong_wolfe")
    criterion = nn.MSELoss()

    n_evals = 0

    def closure():
        nonlocal n_evals
        optimizer.zero_grad()
        loss = criterion(model(x_train), y_train)
        loss.backward()
        n_evals += 1
        return loss

    for step in range(args.steps):
        model.train()
        loss = optimizer.step(closure)

        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(x_val), y_val).item()
        print(f"step {step + 1}/{args.steps}  train_mse {loss.item():.5f}  val_mse {val_loss:.5f}  "
              f"closure_evals {n_evals}")


if __name__ == "__main__":
    main()
