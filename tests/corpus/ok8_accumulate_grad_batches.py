"""Small pre-norm transformer encoder classifying synthetic token sequences, automatic optimization.

Gradient accumulation is left to Lightning (accumulate_grad_batches=4, which scales each
micro-batch loss by 1/4), with gradient_clip_val, precision="bf16-mixed" on CPU, a OneCycleLR
scheduler returned as a per-step dict, torchmetrics, and a ModelCheckpoint writing into
./checkpoints. Correct as written.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
import torchmetrics

VOCAB, SEQ, N_CLASSES = 32, 10, 3


def sequences(n, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, VOCAB, (n, SEQ), generator=g)
    y = (tokens.max(dim=1).values * N_CLASSES) // VOCAB  # class from the largest token
    y = torch.where(tokens[:, 0] < 4, (y + 1) % N_CLASSES, y)
    return TensorDataset(tokens, y)


class TinyTransformer(L.LightningModule):
    def __init__(self, d_model=32, lr=3e-3):
        super().__init__()
        self.save_hyperparameters()
        self.tok = nn.Embedding(VOCAB, d_model)
        self.pos = nn.Parameter(torch.zeros(1, SEQ, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.cls = nn.Linear(d_model, N_CLASSES)
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=N_CLASSES)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=N_CLASSES)

    def forward(self, tokens):
        h = self.encoder(self.tok(tokens) + self.pos)
        return self.cls(self.norm(h.mean(dim=1)))

    def training_step(self, batch, batch_idx):
        tokens, y = batch
        logits = self(tokens)
        loss = nn.functional.cross_entropy(logits, y)
        self.train_acc(logits, y)
        self.log("train_loss", loss)
        self.log("train_acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        tokens, y = batch
        logits = self(tokens)
        self.val_acc(logits, y)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", self.val_acc, on_epoch=True)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.01)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.hparams.lr, total_steps=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 1}}


def main():
    L.seed_everything(10)
    train_loader = DataLoader(sequences(640, 1), batch_size=16, shuffle=True)
    val_loader = DataLoader(sequences(128, 2), batch_size=32)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        precision="bf16-mixed",
        accumulate_grad_batches=4,
        gradient_clip_val=1.0,
        callbacks=[
            ModelCheckpoint(dirpath="checkpoints", monitor="val_acc", mode="max", filename="tt-{epoch}"),
        ],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(TinyTransformer(), train_loader, val_loader)
    print("val_acc", float(trainer.callback_metrics["val_acc"]))


if __name__ == "__main__":
    main()
