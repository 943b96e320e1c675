"""A LightningModule classifier fitted by lightning's Trainer, with a callback that switches to a
lower learning rate for the last epochs.

Bug: the callback does it by building a new AdamW and handing it to the trainer at the start of an
epoch, so Adam's moments restart from zero mid-training (a new optimizer over parameters the old one
had stepped), instead of changing the learning rate of the existing optimizer."""
import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitClassifier(L.LightningModule):
    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.lr)
        return optimizer


class LowerLearningRate(L.Callback):
    def __init__(self, at_epoch: int, lr: float) -> None:
        self.at_epoch, self.lr = at_epoch, lr

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.at_epoch:
            trainer.optimizers = [torch.optim.AdamW(pl_module.parameters(), lr=self.lr)]  # expect: FX201


def make_data(n: int) -> TensorDataset:
    x = torch.randn(n, 16)
    return TensorDataset(x, (x.sum(1) > 0).long())


if __name__ == "__main__":
    torch.manual_seed(0)
    train = DataLoader(make_data(640), batch_size=32, shuffle=True)
    val = DataLoader(make_data(128), batch_size=32)
    trainer = L.Trainer(max_epochs=4, accelerator="cpu", devices=1, logger=False, callbacks=[LowerLearningRate(1, 1e-4)],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(LitClassifier(), train, val)
