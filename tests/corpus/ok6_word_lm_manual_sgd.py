"""LSTM word language model trained with a hand-written SGD update (pytorch/examples style).

No torch.optim: after clip_grad_norm_ every parameter is moved with
``p.data.add_(p.grad, alpha=-lr)``. The learning rate is annealed by 4x whenever validation loss
does not improve, and the best model so far is exported with ``torch.save(model, f)`` into an open
file (in a temporary directory), exactly as the upstream example does.
"""
import argparse
import math
import os
import tempfile

import torch
import torch.nn as nn


def make_corpus(n_tokens, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    trans = torch.softmax(3.0 * torch.randn(vocab, vocab, generator=g), dim=1)
    out = torch.empty(n_tokens, dtype=torch.long)
    tok = 0
    for t in range(n_tokens):
        out[t] = tok
        tok = torch.multinomial(trans[tok], 1, generator=g).item()
    return out


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nlayers, self.nhid = nlayers, nhid
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.decoder.out_features)
        return decoded, hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def evaluate(model, data_source, criterion, bptt, bsz):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(bsz)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i, bptt)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train(model, train_data, criterion, lr, args, epoch):
    model.train()
    total_loss = 0.0
    hidden = model.init_hidden(args.batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        data, targets = get_batch(train_data, i, args.bptt)
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        total_loss += loss.item()
        if (batch + 1) % args.log_interval == 0:
            cur_loss = total_loss / args.log_interval
            print(f"| epoch {epoch:3d} | {batch + 1:3d} batches | lr {lr:5.2f} "
                  f"| loss {cur_loss:5.2f} | ppl {math.exp(cur_loss):8.2f}")
            total_loss = 0.0


def main():
    parser = argparse.ArgumentParser(description="LSTM LM, manual SGD")
    parser.add_argument("--vocab", type=int, default=32)
    parser.add_argument("--emsize", type=int, default=32)
    parser.add_argument("--nhid", type=int, default=48)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=10)
    parser.add_argument("--bptt", type=int, default=15)
    parser.add_argument("--log_interval", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--save", type=str, default="")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    save_path = args.save or os.path.join(tempfile.mkdtemp(prefix="wordlm_"), "model.pt")

    corpus = make_corpus(2400, args.vocab, args.seed)
    train_data = batchify(corpus[:1600], args.batch_size)
    val_data = batchify(corpus[1600:2000], 10)
    test_data = batchify(corpus[2000:], 10)

    model = RNNModel(args.vocab, args.emsize, args.nhid, args.nlayers)
    criterion = nn.CrossEntropyLoss()
    lr = args.lr
    best_val_loss = None
    for epoch in range(1, args.epochs + 1):
        train(model, train_data, criterion, lr, args, epoch)
        val_loss = evaluate(model, val_data, criterion, args.bptt, 10)
        print("-" * 70)
        print(f"| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}")
        print("-" * 70)
        if not best_val_loss or val_loss < best_val_loss:
            with open(save_path, "wb") as f:
                torch.save(model, f)
            best_val_loss = val_loss
        else:
            lr /= 4.0

    with open(save_path, "rb") as f:
        model = torch.load(f, weights_only=False)
        model.rnn.flatten_parameters()
    test_loss = evaluate(model, test_data, criterion, args.bptt, 10)
    print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}")


if __name__ == "__main__":
    main()
