"""HF Trainer: fine-tune only the classification head of a tiny BERT, with class-weighted loss.

Correct: the whole `bert` sub-module (embeddings, encoder, pooler) is frozen with
`requires_grad_(False)` and the optimizer passed through `optimizers=` holds exactly the
classifier's parameters. The compute_loss override applies class weights to a per-batch mean
loss; with gradient_accumulation_steps=1 nothing needs rescaling. Checkpoints are written by the
Trainer itself (model + optimizer + scheduler). A small callback only records metrics.
"""
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    get_linear_schedule_with_warmup,
)

torch.set_num_threads(1)

VOCAB, SEQ = 100, 20


class ImbalancedDataset(Dataset):
    """~20% positives: positives contain token 42 at least twice."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(3, VOCAB, (n, SEQ), generator=g)
        pos = torch.rand(n, generator=g) < 0.2
        for i in torch.nonzero(pos).flatten().tolist():
            idx = torch.randperm(SEQ - 1, generator=g)[:3] + 1
            self.ids[i, idx] = 42
        self.ids[:, 0] = 2
        self.labels = ((self.ids == 42).sum(1) >= 2).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(SEQ, dtype=torch.long),
                "labels": self.labels[i]}


class WeightedLossTrainer(Trainer):
    def __init__(self, *args, class_weights=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        weight = self.class_weights.to(outputs.logits.device)
        loss = F.cross_entropy(outputs.logits, labels, weight=weight)
        return (loss, outputs) if return_outputs else loss


class MetricHistory(TrainerCallback):
    def __init__(self):
        self.history = []

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.history.append((state.global_step, metrics.get("eval_loss"), metrics.get("eval_f1")))


def compute_metrics(pred):
    preds = pred.predictions.argmax(-1)
    labels = pred.label_ids
    tp = ((preds == 1) & (labels == 1)).sum()
    precision = tp / max((preds == 1).sum(), 1)
    recall = tp / max((labels == 1).sum(), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-8)
    return {"accuracy": float((preds == labels).mean()), "f1": float(f1)}


def main():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=SEQ, num_labels=2)
    model = BertForSequenceClassification(config)
    model.bert.requires_grad_(False)

    train_ds, eval_ds = ImbalancedDataset(320, 0), ImbalancedDataset(64, 1)
    counts = torch.bincount(train_ds.labels, minlength=2).float()
    class_weights = counts.sum() / (2 * counts)

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="head_only_"),
        use_cpu=True,
        report_to=[],
        num_train_epochs=3,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=32,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        logging_steps=5,
        seed=0,
        disable_tqdm=True,
    )
    steps = int(np.ceil(len(train_ds) / args.per_device_train_batch_size)) * int(args.num_train_epochs)
    optimizer = torch.optim.AdamW(model.classifier.parameters(), lr=1e-2, weight_decay=0.0)
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=5, num_training_steps=steps)

    history = MetricHistory()
    trainer = WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        compute_metrics=compute_metrics,
        optimizers=(optimizer, scheduler),
        callbacks=[history],
        class_weights=class_weights,
    )
    trainer.train()
    print(history.history)


if __name__ == "__main__":
    main()
