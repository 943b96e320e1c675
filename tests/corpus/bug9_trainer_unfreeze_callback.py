"""HF Trainer with gradual unfreezing done by a callback that rebuilds the optimizer.

Epoch 0 trains only the classifier of a tiny BERT (the encoder starts frozen, so the Trainer's
AdamW holds just the classifier). At the start of epoch 1 the callback unfreezes the encoder and
replaces `trainer.optimizer` with a fresh AdamW over all parameters -- including the classifier
weights the first optimizer had already been stepping, whose Adam moments and step counts are
thrown away. (Adding the encoder as a new param group of the existing optimizer would keep them.)
"""
import tempfile

import torch
from torch.utils.data import Dataset
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

torch.set_num_threads(1)

VOCAB, SEQ = 100, 18


class SentimentLikeDataset(Dataset):
    """Positive words are ids 10..19, negative 20..29; label = which kind dominates."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(30, VOCAB, (n, SEQ), generator=g)
        pos = torch.randint(0, 5, (n,), generator=g)
        neg = torch.randint(0, 5, (n,), generator=g)
        for i in range(n):
            slots = torch.randperm(SEQ - 1, generator=g)[: int(pos[i] + neg[i])] + 1
            self.ids[i, slots[: int(pos[i])]] = torch.randint(10, 20, (int(pos[i]),), generator=g)
            self.ids[i, slots[int(pos[i]):]] = torch.randint(20, 30, (int(neg[i]),), generator=g)
        self.ids[:, 0] = 1
        self.labels = (pos >= neg).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


class GradualUnfreeze(TrainerCallback):
    """Train the head alone for `head_only_epochs`, then fine-tune everything at a lower LR."""

    def __init__(self, head_only_epochs=1, lr_factor=0.3):
        self.head_only_epochs = head_only_epochs
        self.lr_factor = lr_factor
        self.trainer = None
        self.epochs_started = 0

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        if self.epochs_started == self.head_only_epochs:
            model.bert.requires_grad_(True)
            params = [p for p in model.parameters() if p.requires_grad]
            self.trainer.optimizer = torch.optim.AdamW(params, lr=args.learning_rate * self.lr_factor, weight_decay=args.weight_decay)
            print(f"unfroze encoder at epoch {self.epochs_started}: {sum(p.numel() for p in params)} trainable")
        self.epochs_started += 1


def main():
    torch.manual_seed(4)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=SEQ, num_labels=2)
    model = BertForSequenceClassification(config)
    model.bert.requires_grad_(False)

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="unfreeze_"),
        use_cpu=True,
        report_to=[],
        num_train_epochs=3,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=32,
        learning_rate=3e-3,
        weight_decay=0.01,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=10,
        seed=4,
        disable_tqdm=True,
    )
    unfreeze = GradualUnfreeze(head_only_epochs=1)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=SentimentLikeDataset(320, 0),
        eval_dataset=SentimentLikeDataset(64, 1),
        callbacks=[unfreeze],
    )
    unfreeze.trainer = trainer
    trainer.train()


if __name__ == "__main__":
    main()
