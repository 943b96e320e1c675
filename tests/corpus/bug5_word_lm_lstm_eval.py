"""Word-level LSTM language model in the style of pytorch/examples word_language_model.

A synthetic corpus from a tiny bigram grammar is batchified into columns and trained with
truncated BPTT; validation and test perplexity come from evaluate().
"""
import argparse
import math

import torch
import torch.nn as nn


def make_corpus(n_tokens, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    trans = torch.softmax(3.0 * torch.randn(vocab, vocab, generator=g), dim=1)
    toks = [0]
    for _ in range(n_tokens - 1):
        toks.append(torch.multinomial(trans[toks[-1]], 1, generator=g).item())
    return torch.tensor(toks, dtype=torch.long)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].reshape(-1)
    return data, target


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.3):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid, self.nlayers = nhid, nlayers

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        return self.decoder(output).view(-1, self.decoder.out_features), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def evaluate(model, data_source, criterion, bptt, eval_batch_size):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(eval_batch_size)
    for i in range(0, data_source.size(0) - 1, bptt):
        data, targets = get_batch(data_source, i, bptt)
        output, hidden = model(data, hidden)
        hidden = repackage_hidden(hidden)
        total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def main():
    parser = argparse.ArgumentParser(description="LSTM word language model")
    parser.add_argument("--vocab", type=int, default=50)
    parser.add_argument("--emsize", type=int, default=32)
    parser.add_argument("--nhid", type=int, default=48)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--bptt", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1111)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    corpus = make_corpus(2200, args.vocab, seed=args.seed)
    eval_batch_size = 8
    train_data = batchify(corpus[:1600], args.batch_size)
    val_data = batchify(corpus[1600:1900], eval_batch_size)
    test_data = batchify(corpus[1900:], eval_batch_size)

    model = RNNModel(args.vocab, args.emsize, args.nhid, args.nlayers)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

    best_val_loss = None
    for epoch in range(1, args.epochs + 1):
        model.train()
        total_loss = 0.0
        hidden = model.init_hidden(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i, args.bptt)
            hidden = repackage_hidden(hidden)
            optimizer.zero_grad()
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            total_loss += loss.item()
        train_loss = total_loss / (batch + 1)
        val_loss = evaluate(model, val_data, criterion, args.bptt, eval_batch_size)
        print(f"| end of epoch {epoch:3d} | {batch + 1} batches | train loss {train_loss:5.2f} "
              f"| valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}")
        if best_val_loss is None or val_loss < best_val_loss:
            best_val_loss = val_loss
        else:
            for group in optimizer.param_groups:
                group["lr"] /= 4.0

    test_loss = evaluate(model, test_data, criterion, args.bptt, eval_batch_size)
    print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}")


if __name__ == "__main__":
    main()
