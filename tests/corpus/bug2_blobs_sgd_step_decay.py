"""Three-layer MLP classifier on synthetic Gaussian blobs.

SGD with momentum and a halving learning rate per epoch; validation loss/accuracy after every epoch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
BATCH_SIZE = 32
BASE_LR = 0.05
LR_DECAY = 0.5
NUM_CLASSES = 4
IN_DIM = 16


def make_blobs(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(NUM_CLASSES, IN_DIM, generator=g) * 0.6
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    x = centers[y] + torch.randn(n, IN_DIM, generator=g)
    return x, y


def build_model(hidden=64):
    return nn.Sequential(
        nn.Linear(IN_DIM, hidden),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, NUM_CLASSES),
    )


def lr_for_epoch(epoch):
    return BASE_LR * (LR_DECAY ** epoch)


def train_one_epoch(model, loader, optimizer, device):
    model.train()
    running_loss, seen = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * x.size(0)
        seen += x.size(0)
    return running_loss / seen


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    loss_sum, correct, total = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
        total += y.numel()
    return loss_sum / total, correct / total


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    x, y = make_blobs(768)
    train_loader = DataLoader(TensorDataset(x[:576], y[:576]), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[576:], y[576:]), batch_size=128)

    model = build_model().to(device)

    for epoch in range(EPOCHS):
        lr = lr_for_epoch(epoch)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
        train_loss = train_one_epoch(model, train_loader, optimizer, device)
        val_loss, val_acc = evaluate(model, val_loader, device)
        print(f"epoch {epoch + 1}/{EPOCHS} lr {lr:.4f} train_loss {train_loss:.4f} "
              f"val_loss {val_loss:.4f} val_acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
