"""Fine-tune a new classification head on top of a frozen convolutional backbone.

Backbone parameters are frozen (requires_grad=False, BN kept in eval mode); head trained with
gradient accumulation over micro-batches.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

NUM_CLASSES = 5
MICRO_BATCH = 16
ACCUM_STEPS = 4
EPOCHS = 2


def build_backbone():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


class FineTuneModel(nn.Module):
    def __init__(self, backbone, feat_dim, num_classes):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(feat_dim, num_classes))

    def forward(self, x):
        return self.head(self.backbone(x))

    def freeze_backbone(self):
        for p in self.backbone.parameters():
            p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self.backbone.eval()
        return self


def synthetic_images(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    imgs = torch.randn(n, 3, 16, 16, generator=g) * 0.5
    imgs += (labels.float() / NUM_CLASSES).view(-1, 1, 1, 1)
    return TensorDataset(imgs, labels)


def main():
    torch.manual_seed(3)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    backbone = build_backbone()
    model = FineTuneModel(backbone, feat_dim=32, num_classes=NUM_CLASSES).to(device)
    model.freeze_backbone()

    trainable = [p for p in model.parameters() if p.requires_grad]
    print(f"trainable params: {sum(p.numel() for p in trainable)} / {sum(p.numel() for p in model.parameters())}")
    optimizer = torch.optim.SGD(trainable, lr=0.2, momentum=0.9)

    train_loader = DataLoader(synthetic_images(256, seed=10), batch_size=MICRO_BATCH, shuffle=True)
    val_loader = DataLoader(synthetic_images(80, seed=11), batch_size=40)

    for epoch in range(EPOCHS):
        model.train()
        optimizer.zero_grad()
        running = 0.0
        for i, (images, targets) in enumerate(train_loader):
            images, targets = images.to(device), targets.to(device)
            logits = model(images)
            loss = F.cross_entropy(logits, targets)
            (loss / ACCUM_STEPS).backward()
            running += loss.item()

            if (i + 1) % ACCUM_STEPS == 0:
                optimizer.step()
                optimizer.zero_grad()

        # leftover micro-batches at the end of the epoch
        optimizer.step()
        optimizer.zero_grad()

        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, targets in val_loader:
                images, targets = images.to(device), targets.to(device)
                correct += (model(images).argmax(1) == targets).sum().item()
                total += targets.numel()
        print(f"epoch {epoch}: train_loss={running / len(train_loader):.4f} val_acc={correct / total:.3f}")


if __name__ == "__main__":
    main()
