"""Token-sequence classifier (embedding -> GRU -> head) with per-module learning rates.

configure_optimizers builds two parameter groups (encoder at a low LR, head at a high LR)
but forgets the embedding table. The embedding is not frozen, receives gradients on every
batch, and is never updated. Uses a scheduler dict (ReduceLROnPlateau on val_loss) and a
ModelCheckpoint writing into ./ckpt_seq.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

VOCAB, SEQ = 50, 12


def make_split(n, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, VOCAB, (n, SEQ), generator=g)
    # label: whether "hot" tokens (< 10) are more frequent in the first half than the second
    hot = (tokens < 10).float()
    y = (hot[:, : SEQ // 2].sum(1) > hot[:, SEQ // 2:].sum(1)).long()
    return TensorDataset(tokens, y)


class SeqClassifier(L.LightningModule):
    def __init__(self, emb_dim=16, hidden=24, enc_lr=1e-3, head_lr=5e-3):
        super().__init__()
        self.save_hyperparameters()
        self.embedding = nn.Embedding(VOCAB, emb_dim, padding_idx=0)
        self.encoder = nn.GRU(emb_dim, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(hidden, 2))

    def forward(self, tokens):
        out, _ = self.encoder(self.embedding(tokens))
        return self.head(out[:, -1])

    def training_step(self, batch, batch_idx):
        tokens, y = batch
        logits = self(tokens)
        loss = nn.functional.cross_entropy(logits, y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        tokens, y = batch
        logits = self(tokens)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.Adam(
            [
                {"params": self.encoder.parameters(), "lr": self.hparams.enc_lr},
                {"params": self.head.parameters(), "lr": self.hparams.head_lr},
            ]
        )
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1)
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "monitor": "val_loss", "interval": "epoch"},
        }


def main():
    L.seed_everything(21)
    train_loader = DataLoader(make_split(640, 1), batch_size=32, shuffle=True)
    val_loader = DataLoader(make_split(128, 2), batch_size=32)
    ckpt = ModelCheckpoint(dirpath="ckpt_seq", monitor="val_loss", save_top_k=1, filename="best")
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        callbacks=[ckpt],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(SeqClassifier(), train_loader, val_loader)
    print("best", ckpt.best_model_path)


if __name__ == "__main__":
    main()
