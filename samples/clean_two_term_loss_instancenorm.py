"""A small image-to-image network with InstanceNorm (no running statistics, as in style-transfer
code) trained on the mean of two loss terms, a reconstruction loss and an edge loss: the loss given
to backward is `(rec + edge) / 2`, and the running loss adds that mean. No accumulation: one
optimizer step per batch. The quick validation forgets model.eval(), which changes nothing here:
InstanceNorm without running statistics and no dropout behave the same in both modes."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def edges(img: torch.Tensor) -> torch.Tensor:
    return img[..., 1:, :] - img[..., :-1, :]


def main() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.InstanceNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 1, 3, padding=1))
    clean = torch.rand(384, 1, 16, 16)
    noisy = clean + 0.1 * torch.randn_like(clean)
    train_dl = DataLoader(TensorDataset(noisy[:320], clean[:320]), batch_size=16, shuffle=True)
    val_dl = DataLoader(TensorDataset(noisy[320:], clean[320:]), batch_size=32)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    for epoch in range(3):
        running_loss, batches = 0.0, 0
        for x, target in train_dl:
            optimizer.zero_grad()
            out = net(x)
            rec = nn.functional.mse_loss(out, target)
            edge = nn.functional.l1_loss(edges(out), edges(target))
            loss = (rec + edge) / 2
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            batches += 1
        with torch.no_grad():
            val = sum(nn.functional.mse_loss(net(x), t).item() for x, t in val_dl) / len(val_dl)
        print(f"epoch {epoch}: train {running_loss / batches:.4f} val {val:.4f}")


if __name__ == "__main__":
    main()
