"""Manual-optimization regression model whose training_step never clears gradients.

The step calls manual_backward, clips, steps the optimizer and the scheduler, but there is
no opt.zero_grad() anywhere, so every update uses the sum of all gradients seen so far
(stale gradients carried from the previous optimizer step).
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import pytorch_lightning as pl


class TabularRegressor(pl.LightningModule):
    def __init__(self, in_dim=12, hidden=32, lr=3e-3):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 1),
        )
        self.loss_fn = nn.SmoothL1Loss()

    def forward(self, x):
        return self.net(x).squeeze(-1)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        sched = self.lr_schedulers()
        x, y = batch
        pred = self(x)
        loss = self.loss_fn(pred, y)
        self.manual_backward(loss)
        self.clip_gradients(opt, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
        opt.step()
        sched.step()
        self.log("train_loss", loss, prog_bar=False)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        pred = self(x)
        self.log("val_loss", self.loss_fn(pred, y))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200)
        return [opt], [sched]


def make_data(n, in_dim=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, in_dim, generator=g)
    w = torch.randn(in_dim, generator=g)
    y = torch.tanh(x @ w) + 0.05 * torch.randn(n, generator=g)
    return TensorDataset(x, y)


def main():
    pl.seed_everything(7)
    train_loader = DataLoader(make_data(640, seed=1), batch_size=32, shuffle=True)
    val_loader = DataLoader(make_data(128, seed=2), batch_size=32)
    model = TabularRegressor()
    trainer = pl.Trainer(
        max_epochs=3,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, train_loader, val_loader)
    print("final val_loss", float(trainer.callback_metrics["val_loss"]))


if __name__ == "__main__":
    main()
