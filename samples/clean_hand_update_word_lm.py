"""pytorch/examples word_language_model style: an LSTM language model over a batchified token tensor,
truncated BPTT, gradient clipping, and no optimizer: the weights are updated by hand
(`p.data.add_(p.grad, alpha=-lr)`), the learning rate divided by 4 when validation stops improving.
Evaluation runs in eval mode under no_grad."""
import argparse
import math

import torch
from torch import nn


def batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    nbatch = data.size(0) // bsz
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous()


def get_batch(source: torch.Tensor, i: int, bptt: int):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].reshape(-1)


class RNNModel(nn.Module):
    def __init__(self, ntoken: int, ninp: int, nhid: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid = nhid

    def forward(self, x, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(output)).view(-1, self.decoder.out_features), hidden

    def init_hidden(self, bsz: int):
        return (torch.zeros(1, bsz, self.nhid), torch.zeros(1, bsz, self.nhid))


def repackage(h):
    return tuple(v.detach() for v in h)


def evaluate(model, source, bptt, criterion) -> float:
    model.eval()
    total, hidden = 0.0, model.init_hidden(source.size(1))
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, bptt):
            data, targets = get_batch(source, i, bptt)
            output, hidden = model(data, hidden)
            total += len(data) * criterion(output, targets).item()
    return total / (len(source) - 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5.0)
    parser.add_argument("--bptt", type=int, default=12)
    parser.add_argument("--clip", type=float, default=0.25)
    args = parser.parse_args()
    torch.manual_seed(0)
    ntoken = 50
    corpus = torch.randint(0, ntoken, (1300,))
    train_data, val_data = batchify(corpus[:1000], 16), batchify(corpus[1000:], 8)
    model = RNNModel(ntoken, 32, 32)
    criterion = nn.CrossEntropyLoss()
    lr, best = args.lr, math.inf
    for epoch in range(args.epochs):
        model.train()
        hidden = model.init_hidden(16)
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            hidden = repackage(hidden)
            model.zero_grad()
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
        val_loss = evaluate(model, val_data, args.bptt, criterion)
        print(f"epoch {epoch}: valid ppl {math.exp(val_loss):.2f}")
        if val_loss < best:
            best = val_loss
        else:
            lr /= 4.0


if __name__ == "__main__":
    main()
