"""Word-level LSTM language model evaluated over a batched token tensor (no DataLoader).

Bug: `evaluate` never calls model.eval(), so its dropout stays active while the validation loss is
measured: the validation numbers are noisy and pessimistic."""
import argparse

import torch
from torch import nn


def batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    nbatch = data.size(0) // bsz
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous()


def get_batch(source: torch.Tensor, i: int, bptt: int):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


class RNNModel(nn.Module):
    def __init__(self, ntoken: int, ninp: int = 32, nhid: int = 32, dropout: float = 0.3) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.drop(self.encoder(x)))
        return self.decoder(self.drop(out)).view(-1, self.decoder.out_features)


def evaluate(model: nn.Module, data: torch.Tensor, bptt: int) -> float:
    # the caller switches modes
    total = 0.0
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            x, y = get_batch(data, i, bptt)
            total += len(x) * nn.functional.cross_entropy(model(x), y).item()  # expect: FX302
    return total / (len(data) - 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--bptt", type=int, default=12)
    args = parser.parse_args()
    torch.manual_seed(0)
    ntoken = 50
    corpus = torch.randint(0, ntoken, (2400,))
    train_data, val_data = batchify(corpus[:1600], 16), batchify(corpus[1600:], 8)
    model = RNNModel(ntoken)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for i in range(0, train_data.size(0) - 1, args.bptt):
            x, y = get_batch(train_data, i, args.bptt)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            optimizer.step()
        val_loss = evaluate(model, val_data, args.bptt)
        scheduler.step()
        print(f"epoch {epoch}: valid loss {val_loss:.3f}")


if __name__ == "__main__":
    main()
