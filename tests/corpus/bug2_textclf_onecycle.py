"""EmbeddingBag bag-of-tokens topic classifier on a synthetic corpus (torchtext-tutorial style).

Variable-length documents are packed with offsets; AdamW with a one-cycle learning-rate policy.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

EPOCHS = 3
BATCH_SIZE = 32
VOCAB = 240
NUM_CLASSES = 4
MAX_LR = 2e-2


def make_corpus(n, seed):
    g = torch.Generator().manual_seed(seed)
    topic_words = torch.arange(VOCAB).view(NUM_CLASSES, -1)[:, :40]
    docs = []
    for _ in range(n):
        label = int(torch.randint(0, NUM_CLASSES, (1,), generator=g))
        length = int(torch.randint(8, 40, (1,), generator=g))
        n_topic = length // 3
        topical = topic_words[label][torch.randint(0, 40, (n_topic,), generator=g)]
        noise = torch.randint(0, VOCAB, (length - n_topic,), generator=g)
        docs.append((label, torch.cat([topical, noise])))
    return docs


def collate_batch(batch):
    labels = torch.tensor([label for label, _ in batch], dtype=torch.long)
    tokens = [t for _, t in batch]
    offsets = torch.tensor([0] + [len(t) for t in tokens[:-1]]).cumsum(dim=0)
    return labels, torch.cat(tokens), offsets


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, mode="mean")
        self.fc = nn.Linear(embed_dim, num_class)

    def forward(self, text, offsets):
        return self.fc(self.embedding(text, offsets))


def train_one_epoch(model, dataloader, optimizer, device):
    model.train()
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=MAX_LR, total_steps=len(dataloader))
    total_acc, total_count, total_loss = 0, 0, 0.0
    for label, text, offsets in dataloader:
        label, text, offsets = label.to(device), text.to(device), offsets.to(device)
        optimizer.zero_grad()
        predicted_label = model(text, offsets)
        loss = F.cross_entropy(predicted_label, label)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        scheduler.step()
        total_acc += (predicted_label.argmax(1) == label).sum().item()
        total_loss += loss.item() * label.size(0)
        total_count += label.size(0)
    return total_loss / total_count, total_acc / total_count


@torch.no_grad()
def evaluate(model, dataloader, device):
    model.eval()
    total_acc, total_count = 0, 0
    for label, text, offsets in dataloader:
        label, text, offsets = label.to(device), text.to(device), offsets.to(device)
        predicted_label = model(text, offsets)
        total_acc += (predicted_label.argmax(1) == label).sum().item()
        total_count += label.size(0)
    return total_acc / total_count


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_docs = make_corpus(544, seed=1)
    valid_docs = make_corpus(128, seed=2)
    train_dataloader = DataLoader(train_docs, batch_size=BATCH_SIZE, shuffle=True, collate_fn=collate_batch)
    valid_dataloader = DataLoader(valid_docs, batch_size=BATCH_SIZE, collate_fn=collate_batch)

    model = TextClassificationModel(VOCAB, 32, NUM_CLASSES).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=MAX_LR / 25, weight_decay=0.01)

    for epoch in range(1, EPOCHS + 1):
        train_loss, train_acc = train_one_epoch(model, train_dataloader, optimizer, device)
        accu_val = evaluate(model, valid_dataloader, device)
        print(f"| epoch {epoch:2d} | train loss {train_loss:.4f} | train acc {train_acc:.3f} "
              f"| valid acc {accu_val:.3f} | lr {optimizer.param_groups[0]['lr']:.2e}")


if __name__ == "__main__":
    main()
