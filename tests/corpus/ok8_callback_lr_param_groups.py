"""1-D conv forecaster with a step-decay LR callback that edits the optimizer in place.

At the start of epoch 1 (and every `every` epochs after) the callback multiplies the lr of
each param_group of the existing Adam optimizer, so the Adam moments and step counts are
kept. Uses a LightningDataModule and BatchNorm1d (validation runs in eval mode as Lightning
does by default). Correct as written.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

WINDOW = 32


class StepDecay(Callback):
    def __init__(self, every=1, gamma=0.5):
        self.every, self.gamma = every, gamma

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch > 0 and trainer.current_epoch % self.every == 0:
            for opt in trainer.optimizers:
                for group in opt.param_groups:
                    group["lr"] *= self.gamma


class SineData(pl.LightningDataModule):
    def __init__(self, batch_size=24):
        super().__init__()
        self.batch_size = batch_size

    def _series(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        freq = 0.1 + 0.3 * torch.rand(n, 1, generator=g)
        phase = 6.28 * torch.rand(n, 1, generator=g)
        t = torch.arange(WINDOW + 1).float()
        s = torch.sin(freq * t + phase) + 0.05 * torch.randn(n, WINDOW + 1, generator=g)
        return TensorDataset(s[:, :WINDOW].unsqueeze(1), s[:, WINDOW])

    def setup(self, stage=None):
        self.train_ds = self._series(480, 1)
        self.val_ds = self._series(96, 2)

    def train_dataloader(self):
        return DataLoader(self.train_ds, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_ds, batch_size=self.batch_size)


class Forecaster(pl.LightningModule):
    def __init__(self, lr=3e-3):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Conv1d(1, 16, 5, padding=2),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Conv1d(16, 16, 5, padding=2, dilation=1),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(4),
            nn.Flatten(),
            nn.Linear(64, 1),
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_mse", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_mse", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main():
    pl.seed_everything(4)
    trainer = pl.Trainer(
        max_epochs=3,
        accelerator="cpu",
        callbacks=[StepDecay(every=1, gamma=0.5)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = Forecaster()
    trainer.fit(model, datamodule=SineData())
    print("lr", trainer.optimizers[0].param_groups[0]["lr"], "val_mse", float(trainer.callback_metrics["val_mse"]))


if __name__ == "__main__":
    main()
