"""HF Trainer with a hand-built layer-wise learning-rate-decay AdamW passed via `optimizers=`.

The parameter groups are built from `model.bert.encoder.layer[i]` (decayed LRs) and
`model.classifier` (full LR), but the embeddings and the pooler -- which are not frozen and
receive gradients every step -- were left out of every group, so they are never updated.
"""
import tempfile

import torch
from torch.utils.data import Dataset
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
    get_linear_schedule_with_warmup,
)

torch.set_num_threads(1)

VOCAB, SEQ = 90, 16
BASE_LR, LAYER_DECAY = 2e-3, 0.8


class ParityDataset(Dataset):
    """Label: parity of the number of 'marker' tokens (ids 5..9) in the sequence."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(10, VOCAB, (n, SEQ), generator=g)
        k = torch.randint(0, 4, (n,), generator=g)
        for i in range(n):
            pos = torch.randperm(SEQ - 1, generator=g)[: int(k[i])] + 1
            self.ids[i, pos] = torch.randint(5, 10, (len(pos),), generator=g)
        self.ids[:, 0] = 1
        self.labels = (k % 2).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def layerwise_groups(model, base_lr, decay, weight_decay=0.01):
    groups = []
    layers = model.bert.encoder.layer
    n = len(layers)
    for depth, layer in enumerate(layers):
        lr = base_lr * decay ** (n - depth)
        decay_p = [p for name, p in layer.named_parameters() if "LayerNorm" not in name and "bias" not in name]
        no_decay_p = [p for name, p in layer.named_parameters() if "LayerNorm" in name or "bias" in name]
        groups.append({"params": decay_p, "lr": lr, "weight_decay": weight_decay})
        groups.append({"params": no_decay_p, "lr": lr, "weight_decay": 0.0})
    groups.append({"params": list(model.classifier.parameters()), "lr": base_lr, "weight_decay": 0.0})
    return groups


def main():
    torch.manual_seed(2)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=SEQ, num_labels=2)
    model = BertForSequenceClassification(config)

    train_ds, eval_ds = ParityDataset(320, 0), ParityDataset(64, 1)
    epochs, bs = 3, 16
    total_steps = epochs * (len(train_ds) // bs)

    optimizer = torch.optim.AdamW(layerwise_groups(model, BASE_LR, LAYER_DECAY))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * total_steps), total_steps)

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="llrd_"),
        use_cpu=True,
        report_to=[],
        num_train_epochs=epochs,
        per_device_train_batch_size=bs,
        per_device_eval_batch_size=32,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=10,
        max_grad_norm=1.0,
        seed=2,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        optimizers=(optimizer, scheduler),
    )
    trainer.train()
    print(trainer.evaluate())


if __name__ == "__main__":
    main()
