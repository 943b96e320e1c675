"""A LightningModule classifier (BatchNorm, dropout) fitted by lightning's Trainer: AdamW with a
StepLR scheduler, gradient accumulation over 2 batches, validation every epoch. The Trainer runs
the loop; fxcheck gives it its cut as the Trainer's own limit_train_batches / limit_val_batches."""
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
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]


def make_data(n: int) -> TensorDataset:
    x = torch.randn(n, 16)
    return TensorDataset(x, (x.sum(1) > 0).long())


if __name__ == "__main__":
    torch.manual_seed(0)
    train = DataLoader(make_data(640), batch_size=32, shuffle=True)
    val = DataLoader(make_data(128), batch_size=32)
    trainer = L.Trainer(max_epochs=4, accelerator="cpu", devices=1, accumulate_grad_batches=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(LitClassifier(), train, val)
