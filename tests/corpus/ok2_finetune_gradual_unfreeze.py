"""Transfer learning: a ConvNet "pretrained" on a 10-class task is fine-tuned for a 3-class target task.

Epoch 1 trains only the new classifier head; afterwards the backbone is unfrozen with a 10x smaller learning rate.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
UNFREEZE_EPOCH = 1
BATCH_SIZE = 32
NUM_TARGET_CLASSES = 3
HEAD_LR = 1e-2
BACKBONE_LR = 1e-3


class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(self.backbone(x))


def load_pretrained():
    torch.manual_seed(42)
    state_dict = ConvNet(num_classes=10).state_dict()
    model = ConvNet(num_classes=10)
    model.load_state_dict(state_dict)
    return model


def make_images(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_TARGET_CLASSES, (n,), generator=g)
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.5
    x[y == 0, :, :4, :] += 1.0
    x[y == 1, :, :, :4] += 1.0
    x[y == 2, :, 2:6, 2:6] += 1.0
    return TensorDataset(x, y)


def set_requires_grad(module, flag):
    for p in module.parameters():
        p.requires_grad = flag


def train_one_epoch(model, loader, optimizer, device):
    model.train()
    total, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        total += loss.item() * y.size(0)
        correct += (logits.argmax(1) == y).sum().item()
        n += y.size(0)
    return total / n, correct / n


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    correct, n = 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        correct += (model(x).argmax(1) == y).sum().item()
        n += y.size(0)
    return correct / n


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(make_images(512, seed=1), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(make_images(128, seed=2), batch_size=128)

    model = load_pretrained()
    model.fc = nn.Linear(model.fc.in_features, NUM_TARGET_CLASSES)
    model = model.to(device)
    set_requires_grad(model.backbone, False)
    optimizer = torch.optim.AdamW(model.fc.parameters(), lr=HEAD_LR, weight_decay=1e-4)

    for epoch in range(EPOCHS):
        if epoch == UNFREEZE_EPOCH:
            set_requires_grad(model.backbone, True)
            optimizer.add_param_group({"params": model.backbone.parameters(), "lr": BACKBONE_LR})
            print("unfroze backbone")
        train_loss, train_acc = train_one_epoch(model, train_loader, optimizer, device)
        val_acc = evaluate(model, val_loader, device)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f"epoch {epoch + 1}/{EPOCHS} trainable {trainable} loss {train_loss:.4f} "
              f"train_acc {train_acc:.3f} val_acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
