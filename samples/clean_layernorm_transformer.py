"""Tiny transformer text classifier: LayerNorm and dropout only (no BatchNorm), AdamW with warmup,
evaluation in eval mode under torch.inference_mode. The graph inventory shows LayerNorm x4 and no
layer with running statistics."""
import argparse
import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

VOCAB, LENGTH, CLASSES = 64, 16, 4


class TextClassifier(nn.Module):
    def __init__(self, d_model: int = 48) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d_model)
        self.pos = nn.Parameter(torch.zeros(1, LENGTH, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead=4, dim_feedforward=96, dropout=0.1, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, CLASSES)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(tokens) + self.pos)
        return self.head(self.norm(h.mean(dim=1)))


def make_data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, VOCAB, (n, LENGTH), generator=g)
    labels = (tokens[:, :4].sum(1) % CLASSES).long()
    return TensorDataset(tokens, labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    train = DataLoader(make_data(384, 1), batch_size=32, shuffle=True)
    val = DataLoader(make_data(96, 2), batch_size=48)
    model = TextClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    total = args.epochs * len(train)
    warmup = len(train)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup))))

    for epoch in range(args.epochs):
        model.train()
        for tokens, labels in train:
            loss = nn.functional.cross_entropy(model(tokens), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
        model.eval()
        correct = 0
        with torch.inference_mode():
            for tokens, labels in val:
                correct += (model(tokens).argmax(1) == labels).sum().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  val acc {correct / len(val.dataset):.3f}")


if __name__ == "__main__":
    main()
