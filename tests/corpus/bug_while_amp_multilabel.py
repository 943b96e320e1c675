"""Multi-label tagger (6 tags) over synthetic 40-dim sensor features, mixed precision.

Step-driven loop: a while loop pulls batches from the loader and advances the epoch counter by hand.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

NUM_TAGS = 6
MAX_EPOCHS = 3
EVAL_EVERY = 12


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 40, generator=g)
    w = torch.randn(40, NUM_TAGS, generator=torch.Generator().manual_seed(5))
    y = ((x @ w) > 0.5).float()
    return TensorDataset(x, y)


class Tagger(nn.Module):
    def __init__(self, d_in=40, hidden=96, n_tags=NUM_TAGS):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d_in, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(0.1),
            nn.Linear(hidden, hidden), nn.GELU(),
        )
        self.out = nn.Linear(hidden, n_tags)

    def forward(self, x):
        return self.out(self.body(x))


@torch.no_grad()
def evaluate(model, loader, device, amp_dtype):
    model.eval()
    tp = fp = fn = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with torch.autocast(device.type, dtype=amp_dtype):
            pred = (model(x) > 0).float()
        tp += (pred * y).sum().item()
        fp += (pred * (1 - y)).sum().item()
        fn += ((1 - pred) * y).sum().item()
    model.train()
    return 2 * tp / max(2 * tp + fp + fn, 1)


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    train_loader = DataLoader(make_data(384, seed=1), batch_size=32, shuffle=True)
    val_loader = DataLoader(make_data(128, seed=2), batch_size=128)

    model = Tagger().to(device)
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    scaler = torch.amp.GradScaler(device.type)

    epoch = 0
    step = 0
    batches = iter(train_loader)
    model.train()
    while epoch < MAX_EPOCHS:
        try:
            x, y = next(batches)
        except StopIteration:
            epoch += 1
            print(f"== finished epoch {epoch}, val micro-F1 {evaluate(model, val_loader, device, amp_dtype):.3f}")
            batches = iter(train_loader)
            continue

        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp_dtype):
            logits = model(x)
            loss = criterion(logits.float(), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        step += 1

        if step % EVAL_EVERY == 0:
            print(f"step {step} epoch {epoch} loss {loss.item():.4f} scale {scaler.get_scale():.0f}")


if __name__ == "__main__":
    main()
