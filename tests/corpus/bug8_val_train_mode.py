"""Small CNN (BatchNorm + Dropout) on synthetic 8x8 images, LightningDataModule + torchmetrics.

validation_step ends with `self.train()` ("go back to training mode"), but Lightning calls
validation_step once per batch inside its own eval/no-grad loop: from the second validation
batch on, the model is evaluated in training mode, so dropout is active and the BatchNorm
running statistics get updated by validation data.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
import torchmetrics


class ShapesDataModule(L.LightningDataModule):
    def __init__(self, batch_size=32):
        super().__init__()
        self.batch_size = batch_size

    def _make(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, 4, (n,), generator=g)
        x = 0.5 * torch.randn(n, 1, 8, 8, generator=g)
        for c in range(4):
            m = y == c
            r, q = divmod(c, 2)
            x[m, 0, r * 4:(r + 1) * 4, q * 4:(q + 1) * 4] += 1.5
        return TensorDataset(x, y)

    def setup(self, stage=None):
        self.train_ds = self._make(768, seed=11)
        self.val_ds = self._make(160, seed=12)

    def train_dataloader(self):
        return DataLoader(self.train_ds, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_ds, batch_size=self.batch_size)


class QuadrantNet(L.LightningModule):
    def __init__(self, lr=2e-3):
        super().__init__()
        self.save_hyperparameters()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, 4))
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=4)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=4)

    def forward(self, x):
        return self.classifier(self.features(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        self.train_acc(logits, y)
        self.log("train_loss", loss)
        self.log("train_acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        self.val_acc(logits, y)
        self.log("val_loss", loss, on_epoch=True)
        self.log("val_acc", self.val_acc, on_epoch=True)
        # back to training mode for the next training batch
        self.train()
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main():
    L.seed_everything(3)
    dm = ShapesDataModule()
    model = QuadrantNet()
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    print("val_acc", float(trainer.callback_metrics["val_acc"]))


if __name__ == "__main__":
    main()
