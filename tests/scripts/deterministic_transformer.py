"""A small transformer classifier (attention, LayerNorm, dropout) evaluated in eval mode under no_grad,
where PyTorch takes its fused encoder fast path. Saves the final weights and the evaluation logits to --out."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Classifier(nn.Module):
    def __init__(self, vocab=50, d=32, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(99)
    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    tokens, labels = torch.randint(0, 50, (64, 12)), torch.randint(0, 3, (64,))
    loader = DataLoader(TensorDataset(tokens, labels), batch_size=8, shuffle=True)  # 8 batches
    val = DataLoader(TensorDataset(torch.randint(0, 50, (16, 12)), torch.randint(0, 3, (16,))), batch_size=8)
    logits = []
    for epoch in range(args.epochs):
        model.train()
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for x, _ in val:
                logits.append(model(x))
    torch.save({**model.state_dict(), "val_logits": torch.cat(logits)}, args.out)


if __name__ == "__main__":
    main()
