"""Manual optimization with hand-written gradient accumulation, done correctly.

Each micro-batch loss is divided by ACCUM before manual_backward, gradients are cleared
(set_to_none) at the start of every accumulation cycle, clipped with clip_gradients before the
step, and the per-step scheduler from configure_optimizers is stepped after each optimizer
step. The epoch length (32 batches) is a multiple of ACCUM, so no partial cycle is left over.
The un-divided loss is what gets logged. Correct as written.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L

ACCUM = 4


def two_moons(n, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3.1416
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.stack([torch.cos(t), torch.sin(t)], 1)
    x[y == 1] = 1 - x[y == 1] + torch.tensor([0.0, 0.5])
    x = x + 0.1 * torch.randn(n, 2, generator=g)
    feats = torch.cat([x, x ** 2, x[:, :1] * x[:, 1:]], 1)
    return TensorDataset(feats, y.float())


class MoonsNet(L.LightningModule):
    def __init__(self, lr=5e-3):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.net = nn.Sequential(
            nn.Linear(5, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Dropout(0.1), nn.Linear(48, 1)
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt = self.optimizers()
        if batch_idx % ACCUM == 0:
            opt.zero_grad(set_to_none=True)
        loss = nn.functional.binary_cross_entropy_with_logits(self(x), y)
        self.manual_backward(loss / ACCUM)
        if (batch_idx + 1) % ACCUM == 0:
            self.clip_gradients(opt, gradient_clip_val=2.0, gradient_clip_algorithm="norm")
            opt.step()
            self.lr_schedulers().step()
        self.log("train_loss", loss)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.binary_cross_entropy_with_logits(logits, y))
        self.log("val_acc", ((logits > 0).float() == y).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.RMSprop(self.parameters(), lr=self.hparams.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 5))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def main():
    L.seed_everything(2)
    train_loader = DataLoader(two_moons(1024, 1), batch_size=32, shuffle=True, drop_last=True)
    val_loader = DataLoader(two_moons(192, 2), batch_size=64)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(MoonsNet(), train_loader, val_loader)
    print("val_acc", float(trainer.callback_metrics["val_acc"]))


if __name__ == "__main__":
    main()
