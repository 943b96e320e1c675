"""AMP regression whose GradScaler starts at an absurd scale (2**127): the first scaled gradients
overflow, so scaler.step skips that optimizer step and scaler.update backs the scale off;
growth_interval=2 then grows it back after two good steps, into the next overflow. Otherwise a
correct loop: unscale_ before clipping, StepLR stepped once per epoch after the training batches.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def main():
    torch.manual_seed(0)
    x = torch.randn(256, 16)
    y = 2.0 * x[:, :4].sum(dim=1, keepdim=True)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 127, growth_interval=2)
    for epoch in range(3):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.mse_loss(model(inputs).float(), targets)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
        scheduler.step()
        print(f"epoch {epoch + 1}  loss {loss.item():.4f}  scale {scaler.get_scale():.3g}")


if __name__ == "__main__":
    main()
