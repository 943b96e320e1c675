"""MLP classifier with a step-decay LR callback, gradient clipping and bf16 autocast on CPU.

The LrDrop callback lowers the learning rate at the start of epoch 1 by building a fresh
AdamW over the model's parameters and installing it as trainer.optimizers, instead of
editing the existing optimizer's param_groups. The Adam moments and step counts built up
during epoch 0 are thrown away.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
from lightning.pytorch.callbacks import Callback


class LrDrop(Callback):
    def __init__(self, at_epoch=1, factor=0.3):
        self.at_epoch = at_epoch
        self.factor = factor

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.at_epoch:
            old = trainer.optimizers[0]
            new_lr = old.param_groups[0]["lr"] * self.factor
            wd = old.param_groups[0]["weight_decay"]
            trainer.optimizers = [torch.optim.AdamW(pl_module.parameters(), lr=new_lr, weight_decay=wd)]
            print(f"epoch {trainer.current_epoch}: lr -> {new_lr:.2e}")


class Blobs(L.LightningModule):
    def __init__(self, n_features=20, n_classes=5, lr=4e-3):
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Sequential(
            nn.Linear(n_features, 64),
            nn.LayerNorm(64),
            nn.SiLU(),
            nn.Dropout(0.2),
            nn.Linear(64, 64),
            nn.SiLU(),
        )
        self.out = nn.Linear(64, n_classes)

    def forward(self, x):
        return self.out(self.body(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=1e-2)


def blobs(n, n_features=20, n_classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(n_classes, n_features, generator=torch.Generator().manual_seed(99)) * 2
    y = torch.randint(0, n_classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, n_features, generator=g)
    return TensorDataset(x, y)


def main():
    L.seed_everything(5)
    train_loader = DataLoader(blobs(800, seed=1), batch_size=40, shuffle=True)
    val_loader = DataLoader(blobs(160, seed=2), batch_size=40)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        precision="bf16-mixed",
        gradient_clip_val=0.5,
        callbacks=[LrDrop(at_epoch=1)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = Blobs()
    trainer.fit(model, train_loader, val_loader)
    print("lr at end", trainer.optimizers[0].param_groups[0]["lr"], "val_acc", float(trainer.callback_metrics["val_acc"]))


if __name__ == "__main__":
    main()
