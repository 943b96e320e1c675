"""Autoencoder trained with manual optimization and hand-written gradient accumulation.

Gradients are accumulated over ACCUM=4 micro-batches before each optimizer step, but each
micro-batch loss is back-propagated as is (not divided by ACCUM), so every update uses the
sum of four mean losses: an effective step four times larger than intended.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L

ACCUM = 4


class LowRankData(L.LightningDataModule):
    def __init__(self, dim=24, rank=4, batch_size=16):
        super().__init__()
        self.dim, self.rank, self.batch_size = dim, rank, batch_size

    def setup(self, stage=None):
        g = torch.Generator().manual_seed(0)
        basis = torch.randn(self.rank, self.dim, generator=g)
        def draw(n):
            z = torch.randn(n, self.rank, generator=g)
            return TensorDataset(z @ basis + 0.05 * torch.randn(n, self.dim, generator=g))
        self.train_ds, self.val_ds = draw(512), draw(96)

    def train_dataloader(self):
        return DataLoader(self.train_ds, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_ds, batch_size=self.batch_size)


class AutoEncoder(L.LightningModule):
    def __init__(self, dim=24, code=6, lr=1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.encoder = nn.Sequential(nn.Linear(dim, 32), nn.Tanh(), nn.Linear(32, code))
        self.decoder = nn.Sequential(nn.Linear(code, 32), nn.Tanh(), nn.Linear(32, dim))

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def training_step(self, batch, batch_idx):
        (x,) = batch
        opt = self.optimizers()
        recon = self(x)
        loss = nn.functional.mse_loss(recon, x)
        self.manual_backward(loss)
        if (batch_idx + 1) % ACCUM == 0:
            opt.step()
            opt.zero_grad()
            self.lr_schedulers().step()
        self.log("train_mse", loss)

    def validation_step(self, batch, batch_idx):
        (x,) = batch
        self.log("val_mse", nn.functional.mse_loss(self(x), x))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=8, gamma=0.7)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def main():
    L.seed_everything(13)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(AutoEncoder(), datamodule=LowRankData())
    print("val_mse", float(trainer.callback_metrics["val_mse"]))


if __name__ == "__main__":
    main()
