"""Fine-tunes a small "pretrained" ConvNet (pretrained on a 10-class synthetic task) on a 3-class target task.

The backbone is kept, the classifier is adapted to the new label set; AdamW + cosine decay over all steps.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 3
BATCH_SIZE = 32
NUM_TARGET_CLASSES = 3


class SmallConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


def load_pretrained():
    model = SmallConvNet(num_classes=10)
    g = torch.Generator().manual_seed(42)
    state = {k: (torch.randn(v.shape, generator=g) * 0.2 if v.is_floating_point() and v.dim() > 1 else v)
             for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    return model


def adapt_to_task(model, num_classes):
    in_features = model.classifier.in_features
    model.classifier = nn.Linear(in_features, num_classes)
    return model


def make_images(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_TARGET_CLASSES, (n,), generator=g)
    x = torch.randn(n, 1, 12, 12, generator=g) * 0.5
    x[y == 0, :, :6, :] += 1.0
    x[y == 1, :, :, :6] += 1.0
    x[y == 2, :, 3:9, 3:9] += 1.0
    return TensorDataset(x, y)


def train_one_epoch(model, loader, optimizer, scheduler, device):
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for images, targets in loader:
        images, targets = images.to(device), targets.to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(images)
        loss = F.cross_entropy(logits, targets, label_smoothing=0.05)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.item() * images.size(0)
        correct += (logits.argmax(1) == targets).sum().item()
        seen += images.size(0)
    return loss_sum / seen, correct / seen


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    correct, seen = 0, 0
    for images, targets in loader:
        images, targets = images.to(device), targets.to(device)
        correct += (model(images).argmax(1) == targets).sum().item()
        seen += images.size(0)
    return correct / seen


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(make_images(480, seed=1), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(make_images(128, seed=2), batch_size=64)

    model = load_pretrained().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS * len(train_loader))
    model = adapt_to_task(model, NUM_TARGET_CLASSES).to(device)

    for epoch in range(EPOCHS):
        train_loss, train_acc = train_one_epoch(model, train_loader, optimizer, scheduler, device)
        val_acc = evaluate(model, val_loader, device)
        print(f"epoch {epoch + 1}/{EPOCHS} loss {train_loss:.4f} train_acc {train_acc:.3f} val_acc {val_acc:.3f}")


if __name__ == "__main__":
    main()
