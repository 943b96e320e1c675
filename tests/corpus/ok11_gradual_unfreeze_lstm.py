"""ULMFiT-style fine-tuning of a stacked-LSTM text classifier with gradual
unfreezing: start with only the classifier trainable, then unfreeze one more
layer (top to bottom) at the start of every epoch and give it its own
parameter group with a discriminative (smaller) learning rate."""
import logging
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.set_num_threads(1)
logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")
log = logging.getLogger("ulmfit")

CFG = dict(
    vocab=50, seq_len=20, emb=24, hidden=32, classes=3,
    batch_size=32, n_train=416, n_val=128,
    epochs=4, lr=4e-3, lr_decay=2.6, clip=0.5, seed=5,
)


class KeywordReviews(Dataset):
    """Class = which group of 'sentiment' keywords dominates the sequence."""

    def __init__(self, n, cfg, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(10, cfg["vocab"], (n, cfg["seq_len"]), generator=g)
        self.y = torch.randint(0, cfg["classes"], (n,), generator=g)
        for i in range(n):
            pos = torch.randperm(cfg["seq_len"], generator=g)[:4]
            self.x[i, pos] = self.y[i] * 3 + torch.randint(1, 4, (4,), generator=g)

    def __len__(self):
        return self.x.size(0)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class StackedLSTMClassifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embedding = nn.Embedding(cfg["vocab"], cfg["emb"])
        self.lstm1 = nn.LSTM(cfg["emb"], cfg["hidden"], batch_first=True)
        self.lstm2 = nn.LSTM(cfg["hidden"], cfg["hidden"], batch_first=True)
        self.classifier = nn.Sequential(nn.Linear(2 * cfg["hidden"], 32), nn.ReLU(), nn.Linear(32, cfg["classes"]))

    def forward(self, x):
        h, _ = self.lstm1(self.embedding(x))
        h, _ = self.lstm2(h)
        pooled = torch.cat([h.mean(1), h.max(1).values], dim=1)  # concat pooling
        return self.classifier(pooled)

    def layer_groups(self):
        """From top (closest to output) to bottom."""
        return [self.classifier, self.lstm2, self.lstm1, self.embedding]


def set_trainable(module, flag):
    for p in module.parameters():
        p.requires_grad_(flag)


def train_epoch(model, loader, optimizer, clip):
    model.train()
    total, n = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], clip)
        optimizer.step()
        total += loss.item() * y.size(0)
        n += y.size(0)
    return total / n


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct, n, loss = 0, 0, 0.0
    for x, y in loader:
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += y.size(0)
    return loss / n, correct / n


def main(cfg):
    torch.manual_seed(cfg["seed"])
    train_loader = DataLoader(KeywordReviews(cfg["n_train"], cfg, 1), batch_size=cfg["batch_size"], shuffle=True)
    val_loader = DataLoader(KeywordReviews(cfg["n_val"], cfg, 2), batch_size=64)

    model = StackedLSTMClassifier(cfg)
    # (pretrained language-model weights for embedding/lstm1/lstm2 would be loaded here)
    groups = model.layer_groups()
    for g in groups[1:]:
        set_trainable(g, False)
    optimizer = torch.optim.Adam(groups[0].parameters(), lr=cfg["lr"])
    n_unfrozen = 1

    for epoch in range(cfg["epochs"]):
        if epoch > 0 and n_unfrozen < len(groups):
            group = groups[n_unfrozen]
            set_trainable(group, True)
            lr = cfg["lr"] / (cfg["lr_decay"] ** n_unfrozen)
            optimizer.add_param_group({"params": list(group.parameters()), "lr": lr})
            n_unfrozen += 1
            log.info("epoch %d: unfroze %s (lr %.2e)", epoch, type(group).__name__, lr)
        train_loss = train_epoch(model, train_loader, optimizer, cfg["clip"])
        val_loss, val_acc = evaluate(model, val_loader)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log.info("epoch %d: train %.4f | val %.4f acc %.3f | trainable params %d",
                 epoch, train_loss, val_loss, val_acc, trainable)

    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "n_unfrozen": n_unfrozen},
               os.path.join(tempfile.gettempdir(), "ulmfit_clf.pt"))


if __name__ == "__main__":
    main(CFG)
