"""Accelerate linear-probe style training: a frozen tiny BERT backbone with a trainable MLP head.

Correct: the backbone is frozen with `requires_grad_(False)` and deliberately kept in eval mode
while the head (BatchNorm + Dropout) trains in train mode; the optimizer holds exactly the head's
parameters; the epoch-wise StepLR is stepped once per epoch after that epoch's optimizer steps;
the hand-written checkpoint stores head, optimizer and scheduler state; validation switches the
whole model to eval mode and runs under inference_mode.
"""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import BertConfig, BertModel

torch.set_num_threads(1)

VOCAB = 96
SEQ = 16
N_CLASSES = 4


class TopicDataset(Dataset):
    """Each class draws most tokens from its own band of the vocabulary."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, N_CLASSES, (n,), generator=g)
        band = VOCAB // N_CLASSES
        topical = self.labels[:, None] * band + torch.randint(0, band, (n, SEQ), generator=g)
        noise = torch.randint(0, VOCAB, (n, SEQ), generator=g)
        pick = torch.rand(n, SEQ, generator=g) < 0.6
        self.ids = torch.where(pick, topical, noise)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.ids[i], self.labels[i]


class ProbeClassifier(nn.Module):
    def __init__(self, backbone, n_classes):
        super().__init__()
        self.backbone = backbone
        h = backbone.config.hidden_size
        self.head = nn.Sequential(
            nn.Linear(h, 64), nn.BatchNorm1d(64), nn.GELU(), nn.Dropout(0.3), nn.Linear(64, n_classes)
        )

    def forward(self, input_ids):
        hidden = self.backbone(input_ids=input_ids).last_hidden_state
        pooled = hidden.mean(dim=1)
        return self.head(pooled)

    def train(self, mode=True):
        super().train(mode)
        # the frozen backbone never trains: keep its dropout off even while the head trains
        self.backbone.eval()
        return self


def main():
    set_seed(7)
    accelerator = Accelerator(cpu=True)
    ckpt_dir = tempfile.mkdtemp(prefix="probe_")

    backbone = BertModel(BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=SEQ,
    ), add_pooling_layer=False)
    backbone.requires_grad_(False)
    model = ProbeClassifier(backbone, N_CLASSES)

    train_loader = DataLoader(TopicDataset(384, 0), batch_size=16, shuffle=True, drop_last=True)
    val_loader = DataLoader(TopicDataset(96, 1), batch_size=32)

    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)

    model, optimizer, train_loader, val_loader = accelerator.prepare(model, optimizer, train_loader, val_loader)

    best_acc = 0.0
    for epoch in range(3):
        model.train()
        for ids, labels in train_loader:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(ids), labels)
            accelerator.backward(loss)
            torch.nn.utils.clip_grad_norm_(model.head.parameters(), max_norm=2.0)
            optimizer.step()
        scheduler.step()

        model.eval()
        hits = count = 0
        with torch.inference_mode():
            for ids, labels in val_loader:
                preds = model(ids).argmax(dim=-1)
                preds, labels = accelerator.gather_for_metrics((preds, labels))
                hits += (preds == labels).sum().item()
                count += labels.numel()
        acc = hits / count
        accelerator.print(f"epoch {epoch}: val acc {acc:.3f} lr {scheduler.get_last_lr()[0]:.4f}")

        if acc >= best_acc:
            best_acc = acc
            accelerator.save(
                {
                    "epoch": epoch,
                    "head": accelerator.unwrap_model(model).head.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                },
                os.path.join(ckpt_dir, "best_head.pt"),
            )


if __name__ == "__main__":
    main()
