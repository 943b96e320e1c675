"""GRU sequence classifier with a prototype memory (few-shot style monitoring).

Encoder and head use separate optimizers so the encoder can run with a
smaller learning rate than the freshly initialised head.
"""
import logging
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.set_num_threads(1)
logging.basicConfig(level=logging.INFO, format="[%(name)s] %(message)s")
logger = logging.getLogger("gru_proto")

CONFIG = {
    "vocab_size": 40,
    "seq_len": 24,
    "num_classes": 4,
    "embed_dim": 32,
    "hidden_dim": 48,
    "batch_size": 32,
    "n_train": 416,
    "n_val": 128,
    "epochs": 3,
    "enc_lr": 1e-3,
    "head_lr": 3e-3,
    "weight_decay": 1e-2,
    "clip_norm": 1.0,
    "seed": 11,
}


class MotifSequences(Dataset):
    """Each class plants a different 3-token motif somewhere in a random sequence."""

    def __init__(self, n, cfg, seed):
        g = torch.Generator().manual_seed(seed)
        self.tokens = torch.randint(4, cfg["vocab_size"], (n, cfg["seq_len"]), generator=g)
        self.labels = torch.randint(0, cfg["num_classes"], (n,), generator=g)
        motifs = torch.tensor([[1, 2, 3], [3, 2, 1], [2, 1, 3], [1, 3, 2]])
        starts = torch.randint(0, cfg["seq_len"] - 3, (n,), generator=g)
        for i in range(n):
            s = starts[i].item()
            self.tokens[i, s:s + 3] = motifs[self.labels[i]]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return self.tokens[idx], self.labels[idx]


class GRUEncoder(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_dim):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden_dim, hidden_dim)

    def forward(self, tokens):
        _, h = self.gru(self.embed(tokens))
        h = torch.cat([h[-2], h[-1]], dim=-1)
        return torch.tanh(self.proj(h))


class PrototypeMemory:
    """Running class means of the (normalised) features, used for monitoring."""

    def __init__(self, num_classes, dim, momentum=0.9):
        self.protos = torch.zeros(num_classes, dim)
        self.momentum = momentum

    def update(self, feats, labels):
        for c in labels.unique():
            mean = feats[labels == c].mean(0)
            self.protos[c] = self.momentum * self.protos[c] + (1 - self.momentum) * mean

    def accuracy(self, feats, labels):
        sims = feats @ F.normalize(self.protos, dim=-1).t()
        return (sims.argmax(1) == labels).float().mean().item()


class Trainer:
    def __init__(self, encoder, head, cfg):
        self.encoder = encoder
        self.head = head
        self.cfg = cfg
        self.enc_opt = torch.optim.AdamW(encoder.parameters(), lr=cfg["enc_lr"], weight_decay=cfg["weight_decay"])
        self.head_opt = torch.optim.AdamW(head.parameters(), lr=cfg["head_lr"], weight_decay=cfg["weight_decay"])
        self.memory = PrototypeMemory(cfg["num_classes"], cfg["hidden_dim"])

    def train_epoch(self, loader, epoch):
        self.encoder.train()
        self.head.train()
        loss_sum, n = 0.0, 0
        for step, (tokens, labels) in enumerate(loader):
            self.enc_opt.zero_grad()
            self.head_opt.zero_grad()
            feats = self.encoder(tokens)
            feats = F.normalize(feats, dim=-1).detach()  # the memory keeps these
            self.memory.update(feats, labels)
            logits = self.head(feats)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            params = list(self.encoder.parameters()) + list(self.head.parameters())
            torch.nn.utils.clip_grad_norm_(params, self.cfg["clip_norm"])
            self.enc_opt.step()
            self.head_opt.step()
            loss_sum += loss.item() * labels.size(0)
            n += labels.size(0)
        logger.info("epoch %d train loss %.4f", epoch, loss_sum / n)
        return loss_sum / n

    @torch.no_grad()
    def validate(self, loader):
        self.encoder.eval()
        self.head.eval()
        loss_sum, correct, proto_acc, n = 0.0, 0, 0.0, 0
        for tokens, labels in loader:
            feats = F.normalize(self.encoder(tokens), dim=-1)
            logits = self.head(feats)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            proto_acc += self.memory.accuracy(feats, labels) * labels.size(0)
            n += labels.size(0)
        return loss_sum / n, correct / n, proto_acc / n

    def save(self, path, epoch):
        torch.save(
            {
                "epoch": epoch,
                "encoder": self.encoder.state_dict(),
                "head": self.head.state_dict(),
                "enc_opt": self.enc_opt.state_dict(),
                "head_opt": self.head_opt.state_dict(),
            },
            path,
        )


def main(cfg):
    torch.manual_seed(cfg["seed"])
    train_loader = DataLoader(MotifSequences(cfg["n_train"], cfg, seed=1), batch_size=cfg["batch_size"], shuffle=True)
    val_loader = DataLoader(MotifSequences(cfg["n_val"], cfg, seed=2), batch_size=64, shuffle=False)
    encoder = GRUEncoder(cfg["vocab_size"], cfg["embed_dim"], cfg["hidden_dim"])
    head = nn.Sequential(nn.Linear(cfg["hidden_dim"], 64), nn.ReLU(), nn.Linear(64, cfg["num_classes"]))
    trainer = Trainer(encoder, head, cfg)
    ckpt = os.path.join(tempfile.gettempdir(), "gru_proto_last.pt")
    for epoch in range(cfg["epochs"]):
        trainer.train_epoch(train_loader, epoch)
        val_loss, val_acc, proto_acc = trainer.validate(val_loader)
        logger.info("epoch %d val loss %.4f acc %.3f proto-acc %.3f", epoch, val_loss, val_acc, proto_acc)
        trainer.save(ckpt, epoch)


if __name__ == "__main__":
    main(CONFIG)
