"""Train an encoder + classifier with discriminative learning rates (two param groups).

Linear warmup then inverse-sqrt decay via LambdaLR, stepped once per optimizer update.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

config = dict(
    epochs=3,
    batch_size=24,
    encoder_lr=5e-4,
    head_lr=5e-3,
    weight_decay=0.05,
    warmup_steps=8,
    label_smoothing=0.1,
)


class Encoder(nn.Module):
    def __init__(self, d_in=32, d_model=64):
        super().__init__()
        self.proj = nn.Linear(d_in, d_model)
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, d_model), nn.GELU()) for _ in range(2)]
        )

    def forward(self, x):
        h = self.proj(x)
        for blk in self.blocks:
            h = h + blk(h)
        return h


class Classifier(nn.Module):
    def __init__(self, num_classes=6):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.head(self.encoder(x))


def warmup_inverse_sqrt(warmup):
    def fn(step):
        step = step + 1
        if step <= warmup:
            return step / warmup
        return (warmup / step) ** 0.5

    return fn


def build_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(32, 6, generator=g)
    x = torch.randn(480, 32, generator=g)
    y = (x @ w + 0.5 * torch.randn(480, 6, generator=g)).argmax(1)
    return TensorDataset(x[:384], y[:384]), TensorDataset(x[384:], y[384:])


def main():
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_ds, val_ds = build_data()
    train_loader = DataLoader(train_ds, batch_size=config["batch_size"], shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=96)

    model = Classifier().to(device)
    param_groups = [
        {"params": model.encoder.parameters(), "lr": config["encoder_lr"], "name": "encoder"},
        {"params": model.head.parameters(), "lr": config["head_lr"], "name": "head"},
    ]
    optimizer = torch.optim.AdamW(param_groups, weight_decay=config["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=warmup_inverse_sqrt(config["warmup_steps"]))

    step = 0
    for epoch in range(config["epochs"]):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=config["label_smoothing"])
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if step % 8 == 0:
                lrs = ", ".join(f"{g['name']}={g['lr']:.2e}" for g in optimizer.param_groups)
                print(f"step {step:3d} loss {loss.item():.4f} lr[{lrs}]")

        model.eval()
        with torch.no_grad():
            correct = sum((model(x.to(device)).argmax(1) == y.to(device)).sum().item() for x, y in val_loader)
        print(f"epoch {epoch}: val_acc {correct / len(val_ds):.3f}")


if __name__ == "__main__":
    main()
