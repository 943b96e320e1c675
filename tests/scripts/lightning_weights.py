"""A Lightning fit whose weights are hashed at the end of every training epoch (for the bitwise test):
`--out` gets {"epochs": [sha of the weights, ...], "num_training_batches": n}. Limits come from the
command line, so a plain run can set by hand what fxcheck sets when it traces."""
import argparse
import hashlib
import json

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Lit(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=1e-2)
        # sized from what the trainer will run: the cut must reach it as the trainer's own limits
        total = self.trainer.estimated_stepping_batches
        return [optimizer], [{"scheduler": torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-2, total_steps=total + 1),
                              "interval": "step"}]


class Hashes(L.Callback):
    def __init__(self) -> None:
        self.epochs: list[str] = []

    def on_train_epoch_end(self, trainer, pl_module):
        blob = b"".join(t.detach().numpy().tobytes() for t in pl_module.state_dict().values())
        self.epochs.append(hashlib.sha256(blob).hexdigest())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--limit-val", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(768, 8)
    data = TensorDataset(x, (x[:, 0] > 0).long())
    hashes = Hashes()
    limits = {k: v for k, v in (("limit_train_batches", args.limit_train), ("limit_val_batches", args.limit_val)) if v}
    trainer = L.Trainer(max_epochs=args.max_epochs, accelerator="cpu", devices=1, accumulate_grad_batches=4,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[hashes], **limits)
    try:
        trainer.fit(Lit(), DataLoader(data, batch_size=16, shuffle=True), DataLoader(data, batch_size=64))
    finally:  # fxcheck stops the run after the first step past its epochs: keep what was hashed
        with open(args.out, "w") as f:
            json.dump({"epochs": hashes.epochs, "num_training_batches": trainer.num_training_batches}, f)


if __name__ == "__main__":
    main()
