"""Accelerate fine-tuning of a tiny BERT classifier with gradient accumulation ported by hand.

The loop was ported from a single-GPU script: it accumulates gradients over ACCUM_STEPS
micro-batches and steps with `if (step + 1) % ACCUM_STEPS == 0`, but neither divides the
loss by ACCUM_STEPS nor uses `accelerator.accumulate()` (the Accelerator is built with the
default gradient_accumulation_steps=1, so accelerator.backward does not scale either).
Every update is therefore ACCUM_STEPS times larger than intended.
"""
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from accelerate import Accelerator
from transformers import BertConfig, BertForSequenceClassification, get_linear_schedule_with_warmup

torch.set_num_threads(1)  # tiny model: extra threads only add contention on CPU

SEED = 13
VOCAB = 120
SEQ_LEN = 24
BATCH_SIZE = 8
ACCUM_STEPS = 4
NUM_EPOCHS = 3
LR = 5e-4


class KeywordDataset(Dataset):
    """Label is 1 when one of a few 'keyword' token ids occurs in the sequence."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(5, VOCAB, (n, SEQ_LEN), generator=g)
        self.ids[:, 0] = 1  # [CLS]
        lengths = torch.randint(SEQ_LEN // 2, SEQ_LEN + 1, (n,), generator=g)
        self.mask = (torch.arange(SEQ_LEN)[None, :] < lengths[:, None]).long()
        self.ids = self.ids * self.mask
        keywords = torch.tensor([7, 8, 9])
        self.labels = torch.isin(self.ids, keywords).any(dim=1).long()

    def __len__(self):
        return self.ids.size(0)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": self.labels[i]}


def main():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)

    accelerator = Accelerator(cpu=True)

    config = BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=SEQ_LEN, num_labels=2,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )
    model = BertForSequenceClassification(config)

    train_ds = KeywordDataset(512, seed=1)
    eval_ds = KeywordDataset(128, seed=2)
    train_loader = DataLoader(train_ds, batch_size=BATCH_SIZE, shuffle=True)
    eval_loader = DataLoader(eval_ds, batch_size=32)

    no_decay = ["bias", "LayerNorm.weight"]
    grouped = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(grouped, lr=LR)
    updates_per_epoch = len(train_loader) // ACCUM_STEPS
    lr_scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=4, num_training_steps=updates_per_epoch * NUM_EPOCHS
    )

    model, optimizer, train_loader, eval_loader, lr_scheduler = accelerator.prepare(
        model, optimizer, train_loader, eval_loader, lr_scheduler
    )

    for epoch in range(NUM_EPOCHS):
        model.train()
        running = 0.0
        for step, batch in enumerate(train_loader):
            outputs = model(**batch)
            loss = outputs.loss
            accelerator.backward(loss)
            running += loss.item()
            if (step + 1) % ACCUM_STEPS == 0:
                accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()

        model.eval()
        correct, total = 0, 0
        for batch in eval_loader:
            with torch.no_grad():
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            preds, refs = accelerator.gather_for_metrics((logits.argmax(-1), batch["labels"]))
            correct += (preds == refs).sum().item()
            total += refs.numel()
        accelerator.print(
            f"epoch {epoch}: train loss {running / len(train_loader):.4f}  eval acc {correct / total:.3f}"
        )


if __name__ == "__main__":
    main()
