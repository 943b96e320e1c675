"""GRU word language model with tied embeddings, after pytorch/examples word_language_model.

Tokens from a synthetic Markov "grammar" are batchified into columns; training uses truncated
BPTT with a log-interval loss report, evaluate() walks the validation / test tensors in BPTT
slices, and the learning rate is annealed when validation perplexity stops improving.
"""
import argparse
import math
import time

import torch
import torch.nn as nn


def synthetic_tokens(n_tokens, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    logits = 2.5 * torch.randn(vocab, vocab, generator=g)
    logits[:, 0] -= 4.0  # token 0 is a rare "<eos>"
    probs = torch.softmax(logits, dim=1)
    out = torch.empty(n_tokens, dtype=torch.long)
    tok = 1
    for t in range(n_tokens):
        out[t] = tok
        tok = torch.multinomial(probs[tok], 1, generator=g).item()
    return out


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data[: nbatch * bsz]
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].reshape(-1)


class GRULM(nn.Module):
    def __init__(self, ntoken, nhid, nlayers, dropout=0.25):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = nn.GRU(nhid, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight
        self.nlayers, self.nhid = nlayers, nhid
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output))
        return decoded.view(-1, decoded.size(-1)), hidden

    def init_hidden(self, bsz):
        return next(self.parameters()).new_zeros(self.nlayers, bsz, self.nhid)


def evaluate(model, data_source, criterion, bptt, bsz):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(bsz)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i, bptt)
            output, hidden = model(data, hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train(model, train_data, criterion, optimizer, args, epoch):
    model.train()
    total_loss = 0.0
    start = time.time()
    hidden = model.init_hidden(args.batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        data, targets = get_batch(train_data, i, args.bptt)
        hidden = hidden.detach()
        optimizer.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        total_loss += loss.item()
        if (batch + 1) % args.log_interval == 0:
            cur_loss = total_loss / args.log_interval
            ms = (time.time() - start) * 1000 / args.log_interval
            lr = optimizer.param_groups[0]["lr"]
            print(f"| epoch {epoch:3d} | {batch + 1:4d} batches | lr {lr:5.2f} | ms/batch {ms:6.1f} "
                  f"| loss {cur_loss:5.2f} | ppl {math.exp(cur_loss):7.2f}")
            total_loss = 0.0
            start = time.time()


def main():
    parser = argparse.ArgumentParser(description="GRU word LM (tied weights)")
    parser.add_argument("--vocab", type=int, default=40)
    parser.add_argument("--nhid", type=int, default=48)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=12)
    parser.add_argument("--bptt", type=int, default=14)
    parser.add_argument("--log_interval", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    tokens = synthetic_tokens(2000, args.vocab, seed=args.seed)
    eval_bsz = 6
    train_data = batchify(tokens[:1400], args.batch_size)
    val_data = batchify(tokens[1400:1700], eval_bsz)
    test_data = batchify(tokens[1700:], eval_bsz)

    model = GRULM(args.vocab, args.nhid, args.nlayers)
    criterion = nn.CrossEntropyLoss()
    lr = args.lr
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    best_val = None
    for epoch in range(1, args.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = lr
        train(model, train_data, criterion, optimizer, args, epoch)
        val_loss = evaluate(model, val_data, criterion, args.bptt, eval_bsz)
        print(f"| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):7.2f}")
        if best_val is None or val_loss < best_val:
            best_val = val_loss
        else:
            lr /= 4.0

    test_loss = evaluate(model, test_data, criterion, args.bptt, eval_bsz)
    print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):7.2f}")


if __name__ == "__main__":
    main()
