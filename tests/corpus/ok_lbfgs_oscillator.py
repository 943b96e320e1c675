"""Fit a small physics-informed MLP to noisy damped-oscillator measurements with L-BFGS.

Full-batch optimisation: train_one_epoch() runs one optimizer.step(closure); evaluate() on a dense grid.
"""
import math

import torch
import torch.nn as nn


def damped_oscillator(t, gamma=0.3, omega=2.0):
    return torch.exp(-gamma * t) * torch.cos(omega * t)


class FCN(nn.Module):
    def __init__(self, hidden=32, depth=3):
        super().__init__()
        layers = [nn.Linear(1, hidden), nn.Tanh()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.Tanh()]
        layers.append(nn.Linear(hidden, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, t):
        return self.net(t)


def physics_residual(model, t_col, gamma=0.3, omega=2.0):
    t_col = t_col.clone().requires_grad_(True)
    u = model(t_col)
    du = torch.autograd.grad(u, t_col, torch.ones_like(u), create_graph=True)[0]
    d2u = torch.autograd.grad(du, t_col, torch.ones_like(du), create_graph=True)[0]
    return d2u + 2 * gamma * du + (omega**2 + gamma**2) * u


def train_one_epoch(model, optimizer, t_obs, u_obs, t_col, lam):
    model.train()
    history = []

    def closure():
        optimizer.zero_grad()
        data_loss = torch.mean((model(t_obs) - u_obs) ** 2)
        phys_loss = torch.mean(physics_residual(model, t_col) ** 2)
        loss = data_loss + lam * phys_loss
        loss.backward()
        history.append((data_loss.item(), phys_loss.item()))
        return loss

    loss = optimizer.step(closure)
    return loss.item(), history[-1]


@torch.no_grad()
def evaluate(model, t_grid):
    model.eval()
    pred = model(t_grid)
    return torch.sqrt(torch.mean((pred - damped_oscillator(t_grid)) ** 2)).item()


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    t_obs = torch.rand(40, 1, generator=g) * 2.0
    u_obs = damped_oscillator(t_obs) + 0.02 * torch.randn(40, 1, generator=g)
    t_col = torch.linspace(0, 2 * math.pi, 60).unsqueeze(1)
    t_grid = torch.linspace(0, 2 * math.pi, 200).unsqueeze(1)

    model = FCN()
    optimizer = torch.optim.LBFGS(
        model.parameters(), lr=0.5, max_iter=10, history_size=20, line_search_fn="strong_wolfe"
    )

    for epoch in range(8):
        loss, (data_l, phys_l) = train_one_epoch(model, optimizer, t_obs, u_obs, t_col, lam=1e-2)
        rmse = evaluate(model, t_grid)
        print(f"epoch {epoch}: loss {loss:.5f} data {data_l:.5f} physics {phys_l:.5f} grid_rmse {rmse:.4f}")


if __name__ == "__main__":
    main()
