"""Linear-probe style fine-tuning: a frozen conv backbone (with BatchNorm) and a trainable head.

The backbone stands in for a pretrained feature extractor: its parameters are frozen with
requires_grad_(False), the optimizer holds only the head's parameters, and the module's
train() is overridden so the backbone always stays in eval mode (BatchNorm uses and keeps
its running statistics). The head has Dropout and is trained normally. Correct as written.
ModelCheckpoint writes into ./ckpt_probe.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
import torchmetrics


def make_backbone():
    return nn.Sequential(
        nn.Conv2d(3, 12, 3, padding=1),
        nn.BatchNorm2d(12),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(12, 24, 3, padding=1),
        nn.BatchNorm2d(24),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


class LinearProbe(L.LightningModule):
    def __init__(self, n_classes=3, lr=1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.backbone = make_backbone()
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(24, n_classes))
        self.val_f1 = torchmetrics.F1Score(task="multiclass", num_classes=n_classes, average="macro")

    def train(self, mode=True):
        super().train(mode)
        self.backbone.eval()  # frozen feature extractor: BatchNorm always in inference mode
        return self

    def forward(self, x):
        return self.head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.val_f1(logits, y)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_f1", self.val_f1, on_epoch=True)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.head.parameters(), lr=self.hparams.lr, momentum=0.9, nesterov=True)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


def colour_images(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 3, 10, 10, generator=g) * 0.6
    x[torch.arange(n), y] += 1.0  # class = dominant colour channel
    return TensorDataset(x, y)


def main():
    L.seed_everything(8)
    train_loader = DataLoader(colour_images(576, 1), batch_size=32, shuffle=True)
    val_loader = DataLoader(colour_images(128, 2), batch_size=32)
    ckpt = ModelCheckpoint(dirpath="ckpt_probe", monitor="val_f1", mode="max", save_last=True)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        callbacks=[ckpt],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(LinearProbe(), train_loader, val_loader)
    print("val_f1", float(trainer.callback_metrics["val_f1"]))


if __name__ == "__main__":
    main()
