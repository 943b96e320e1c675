"""A LightningModule with manual optimization (a GAN-style setup is why it was switched on), fitted
by lightning's Trainer.

Bug: with automatic_optimization off, Lightning no longer clears gradients; training_step calls
manual_backward and step but never zero_grad, so every step applies the sum of all gradients so far."""
import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitRegressor(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Dropout(0.1), nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.manual_backward(loss)  # expect: FX101
        opt.step()
        self.log("train_loss", loss)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def make_data(n: int) -> TensorDataset:
    x = torch.randn(n, 8)
    return TensorDataset(x, x[:, :2].sum(1, keepdim=True))


if __name__ == "__main__":
    torch.manual_seed(0)
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(LitRegressor(), DataLoader(make_data(512), batch_size=32, shuffle=True),
                DataLoader(make_data(128), batch_size=32))
