"""Bidirectional LSTM that classifies whether a noisy sequence's running sum ends positive.

SGD with momentum, clip_grad_norm_, zero_grad(set_to_none=False) and ReduceLROnPlateau on val loss.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

SEQ_LEN = 20
BATCH = 32
EPOCHS = 3
MAX_NORM = 1.0


def make_dataset(n, seed):
    g = torch.Generator().manual_seed(seed)
    steps = torch.randn(n, SEQ_LEN, 1, generator=g)
    labels = (steps.sum(dim=(1, 2)) > 0).float()
    return TensorDataset(steps, labels)


class LSTMClassifier(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.2)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        h = torch.cat([h_n[-2], h_n[-1]], dim=1)
        return self.out(self.dropout(h)).squeeze(1)


def main():
    torch.manual_seed(2024)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_loader = DataLoader(make_dataset(576, seed=1), batch_size=BATCH, shuffle=True)
    val_loader = DataLoader(make_dataset(128, seed=2), batch_size=BATCH)

    model = LSTMClassifier().to(device)
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0)

    for epoch in range(EPOCHS):
        model.train()
        train_loss, correct, seen = 0.0, 0, 0
        for seqs, labels in train_loader:
            seqs, labels = seqs.to(device), labels.to(device)
            optimizer.zero_grad(set_to_none=False)
            logits = model(seqs)
            loss = criterion(logits, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
            optimizer.step()

            train_loss += loss.item() * labels.size(0)
            correct += ((logits > 0).float() == labels).sum().item()
            seen += labels.size(0)

        model.eval()
        val_loss, val_correct, val_seen = 0.0, 0, 0
        with torch.no_grad():
            for seqs, labels in val_loader:
                seqs, labels = seqs.to(device), labels.to(device)
                logits = model(seqs)
                val_loss += criterion(logits, labels).item() * labels.size(0)
                val_correct += ((logits > 0).float() == labels).sum().item()
                val_seen += labels.size(0)
        val_loss /= val_seen
        plateau.step(val_loss)

        print(
            f"epoch {epoch}: train_loss={train_loss / seen:.4f} train_acc={correct / seen:.3f} "
            f"val_loss={val_loss:.4f} val_acc={val_correct / val_seen:.3f} lr={optimizer.param_groups[0]['lr']:.3g}"
        )


if __name__ == "__main__":
    main()
