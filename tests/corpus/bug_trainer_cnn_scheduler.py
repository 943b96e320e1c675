"""Train a tiny CNN on synthetic 16x16 single-channel "shape" images (3 classes).

Keras-style Trainer with pluggable callbacks (LR schedule, early stopping, history).
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class TinyCNN(nn.Module):
    def __init__(self, num_classes=3):
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
        )
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class Callback:
    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_epoch_end(self, trainer, epoch, metrics):
        pass


class LearningRateScheduler(Callback):
    def __init__(self, scheduler):
        self.scheduler = scheduler

    def on_epoch_begin(self, trainer, epoch):
        self.scheduler.step()
        trainer.log(f"epoch {epoch}: lr={self.scheduler.get_last_lr()[0]:.4f}")


class EarlyStopping(Callback):
    def __init__(self, patience=3):
        self.patience = patience
        self.best = float("inf")
        self.bad_epochs = 0

    def on_epoch_end(self, trainer, epoch, metrics):
        if metrics["val_loss"] < self.best - 1e-4:
            self.best = metrics["val_loss"]
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.stop_training = True


class History(Callback):
    def __init__(self):
        self.records = []

    def on_epoch_end(self, trainer, epoch, metrics):
        self.records.append(dict(epoch=epoch, **metrics))
        trainer.log(
            f"epoch {epoch}: loss={metrics['loss']:.4f} val_loss={metrics['val_loss']:.4f} "
            f"val_acc={metrics['val_acc']:.3f}"
        )


class Trainer:
    def __init__(self, model, optimizer, loss_fn, callbacks=(), device="cpu"):
        self.model = model.to(device)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.callbacks = list(callbacks)
        self.device = device
        self.stop_training = False

    def log(self, msg):
        print(msg)

    def _call(self, name, *args):
        for cb in self.callbacks:
            getattr(cb, name)(self, *args)

    def _run_epoch(self, loader):
        self.model.train()
        total, count = 0.0, 0
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            out = self.model(x)
            loss = self.loss_fn(out, y)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * x.size(0)
            count += x.size(0)
        return total / count

    @torch.no_grad()
    def _evaluate(self, loader):
        self.model.eval()
        total, correct, count = 0.0, 0, 0
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            out = self.model(x)
            total += self.loss_fn(out, y).item() * x.size(0)
            correct += (out.argmax(1) == y).sum().item()
            count += x.size(0)
        return total / count, correct / count

    def fit(self, train_loader, val_loader, epochs):
        for epoch in range(epochs):
            if self.stop_training:
                break
            self._call("on_epoch_begin", epoch)
            loss = self._run_epoch(train_loader)
            val_loss, val_acc = self._evaluate(val_loader)
            self._call("on_epoch_end", epoch, {"loss": loss, "val_loss": val_loss, "val_acc": val_acc})


def synthetic_shapes(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, 16, 16, generator=g)
    x[y == 0, :, 4:12, 4:12] += 1.0  # filled square
    x[y == 1, :, :, 7:9] += 1.0  # vertical bar
    x[y == 2, :, 7:9, :] += 1.0  # horizontal bar
    return TensorDataset(x, y)


def main():
    torch.manual_seed(42)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_loader = DataLoader(synthetic_shapes(384, seed=1), batch_size=32, shuffle=True)
    val_loader = DataLoader(synthetic_shapes(96, seed=2), batch_size=48)

    model = TinyCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.7)

    history = History()
    trainer = Trainer(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        callbacks=[LearningRateScheduler(scheduler), EarlyStopping(patience=2), history],
        device=device,
    )
    trainer.fit(train_loader, val_loader, epochs=3)
    print(f"best val_loss: {min(r['val_loss'] for r in history.records):.4f}")


if __name__ == "__main__":
    main()
