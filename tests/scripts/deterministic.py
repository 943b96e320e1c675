"""AMP (bfloat16 autocast + enabled GradScaler), accumulation, clipping, a scheduler, shuffling and
dropout: everything fxcheck hooks. Saves the final weights to --out."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(1234)
    device = "cpu"
    model = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 4))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=100)
    scaler = torch.amp.GradScaler(device)
    gen = torch.Generator().manual_seed(7)
    data = TensorDataset(torch.randn(96, 16), torch.randint(0, 4, (96,)))
    loader = DataLoader(data, batch_size=12, shuffle=True, generator=gen)  # 8 batches
    val = DataLoader(TensorDataset(torch.randn(24, 16), torch.randint(0, 4, (24,))), batch_size=12)
    accum = 2
    val_losses = []
    for epoch in range(args.epochs):
        model.train()
        for i, (x, y) in enumerate(loader):
            with torch.autocast(device, dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(model(x), y) / accum
            scaler.scale(loss).backward()
            if (i + 1) % accum == 0:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(opt)
                scaler.update()
                opt.zero_grad(set_to_none=True)
                sched.step()
        model.eval()
        with torch.no_grad():
            for x, y in val:
                val_losses.append(nn.functional.cross_entropy(model(x), y))
    # the evaluation outputs must be unchanged too (the model's graph is captured in both phases)
    torch.save({**model.state_dict(), "val_losses": torch.stack(val_losses)}, args.out)


if __name__ == "__main__":
    main()
