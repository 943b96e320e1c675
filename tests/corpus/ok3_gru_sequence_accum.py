"""GRU classifier predicting whether a noisy synthetic time series trends up, flat or down.

Trained with SGD momentum, gradient accumulation over 4 micro-batches and a step-decay schedule.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 2
BATCH_SIZE = 20
ACCUM_STEPS = 4
SEQ_LEN = 24


def make_trends(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    slope = (1 - labels.float()) * (0.05 + 0.05 * torch.rand(n, generator=g))
    t = torch.arange(SEQ_LEN, dtype=torch.float32)
    series = slope[:, None] * t[None, :] + 0.1 * torch.randn(n, SEQ_LEN, generator=g).cumsum(dim=1)
    return TensorDataset(series.unsqueeze(-1), labels)


class TrendGRU(nn.Module):
    def __init__(self, hidden=32, num_classes=3):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(hidden, num_classes))

    def forward(self, x):
        _, h = self.gru(x)
        return self.head(h[-1])


def train_one_epoch(model, loader, criterion, optimizer, scheduler, device, accum_steps):
    model.train()
    optimizer.zero_grad()
    running_loss, n_seen = 0.0, 0
    for step, (seq, target) in enumerate(loader):
        seq, target = seq.to(device), target.to(device)
        loss = criterion(model(seq), target) / accum_steps
        loss.backward()
        running_loss += loss.item() * accum_steps * target.size(0)
        n_seen += target.size(0)
        if (step + 1) % accum_steps == 0:
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
    return running_loss / n_seen


@torch.no_grad()
def evaluate(model, loader, criterion, device):
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for seq, target in loader:
        seq, target = seq.to(device), target.to(device)
        logits = model(seq)
        total_loss += criterion(logits, target).item() * target.size(0)
        correct += (logits.argmax(1) == target).sum().item()
        n += target.size(0)
    return total_loss / n, correct / n


def main():
    torch.manual_seed(2024)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader = DataLoader(make_trends(320, seed=3), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(make_trends(60, seed=4), batch_size=30)

    model = TrendGRU().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)

    for epoch in range(EPOCHS):
        train_loss = train_one_epoch(model, train_loader, criterion, optimizer, scheduler, device, ACCUM_STEPS)
        val_loss, val_acc = evaluate(model, val_loader, criterion, device)
        print(f"epoch {epoch + 1}: train_loss={train_loss:.4f} val_loss={val_loss:.4f} val_acc={val_acc:.3f}")


if __name__ == "__main__":
    main()
