"""Fine-tune a classification head on a frozen convolutional backbone, the way detection and
segmentation code does: every epoch the model goes to training mode, then the backbone (its weights
frozen) is put back in eval mode so its BatchNorm statistics stay those of pre-training; only the
head (with dropout) trains. Validation runs the whole model in eval mode under no_grad. The best
weights are kept in memory (a deep copy of the model and optimizer state) and restored when the
validation loss gets worse."""
import copy

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv1d(4, 16, 5, padding=2), nn.BatchNorm1d(16), nn.ReLU(),
            nn.Conv1d(16, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(), nn.AdaptiveAvgPool1d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(32, 3))

    def forward(self, x):
        return self.head(self.backbone(x))


def make_data(n: int):
    x = torch.randn(n, 4, 32)
    y = (x[:, 0].mean(1) > 0).long() + (x[:, 1].mean(1) > 0.2).long()
    return TensorDataset(x, y)


def main() -> None:
    torch.manual_seed(0)
    model = Net()
    for p in model.backbone.parameters():  # "pre-trained" backbone: frozen
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    train_dl = DataLoader(make_data(640), batch_size=32, shuffle=True)
    val_dl = DataLoader(make_data(128), batch_size=64)
    best_loss, best_state = float("inf"), None
    for epoch in range(4):
        model.train()
        model.backbone.eval()  # keep the pre-trained BatchNorm statistics
        for x, y in train_dl:
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val = sum(nn.functional.cross_entropy(model(x), y, reduction="sum").item() for x, y in val_dl) / 128
        print(f"epoch {epoch}: val {val:.4f}")
        if val < best_loss:
            best_loss = val
            best_state = copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict()})
        elif best_state is not None:  # got worse: back to the best point
            model.load_state_dict(best_state["model"])
            optimizer.load_state_dict(best_state["optimizer"])


if __name__ == "__main__":
    main()
