"""HF Trainer subclass with a label-smoothed compute_loss on a tiny BERT, gradient accumulation 4.

The compute_loss override returns a per-micro-batch *mean* label-smoothed cross-entropy and ignores
`num_items_in_batch`. BertForSequenceClassification.forward accepts **kwargs, so the Trainer sets
model_accepts_loss_kwargs=True, counts num_items_in_batch from the labels and therefore assumes
the returned loss is already normalised over the accumulated batch: it does not divide it by
gradient_accumulation_steps. Each optimizer step thus applies the sum of 4 mean-loss gradients,
4x the intended update.
"""
import tempfile

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

torch.set_num_threads(1)

VOCAB, SEQ, N_LABELS = 110, 20, 3


class OrderDataset(Dataset):
    """3 classes: whether token 10 appears before, after, or not at all relative to token 20."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(30, VOCAB, (n, SEQ), generator=g)
        self.labels = torch.randint(0, N_LABELS, (n,), generator=g)
        for i in range(n):
            a, b = sorted(torch.randperm(SEQ - 1, generator=g)[:2].add(1).tolist())
            if self.labels[i] == 0:
                self.ids[i, a], self.ids[i, b] = 10, 20
            elif self.labels[i] == 1:
                self.ids[i, a], self.ids[i, b] = 20, 10
        self.ids[:, 0] = 1

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


class SmoothedCETrainer(Trainer):
    def __init__(self, *args, smoothing=0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.smoothing = smoothing

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = F.cross_entropy(outputs.logits, labels, label_smoothing=self.smoothing)
        return (loss, outputs) if return_outputs else loss


def main():
    torch.manual_seed(1)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=SEQ, num_labels=N_LABELS)
    model = BertForSequenceClassification(config)

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="smoothed_"),
        use_cpu=True,
        report_to=[],
        num_train_epochs=3,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=32,
        gradient_accumulation_steps=4,
        learning_rate=1e-3,
        warmup_steps=3,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=2,
        seed=1,
        disable_tqdm=True,
    )
    trainer = SmoothedCETrainer(
        model=model,
        args=args,
        train_dataset=OrderDataset(384, 0),
        eval_dataset=OrderDataset(64, 1),
        smoothing=0.1,
    )
    trainer.train()


if __name__ == "__main__":
    main()
