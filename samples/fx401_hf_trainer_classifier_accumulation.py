"""A small BERT sequence classifier (built from a config, no download) fine-tuned with Hugging
Face's Trainer and gradient_accumulation_steps=2.

Bug (in how the two work together): the model's forward accepts **kwargs, so the Trainer assumes it
normalizes its loss by num_items_in_batch and does not divide the loss by the accumulation steps;
but BertForSequenceClassification returns a plain mean cross-entropy. Every update is the sum of 2
batch gradients, twice what the learning rate was tuned for. (`model.accepts_loss_kwargs = False`
makes the Trainer divide again.)"""
import tempfile

import torch
from torch.utils.data import Dataset
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments


class Sentences(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(5, 100, (n, 16), generator=g)
        self.y = (self.x[:, 0] > 50).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "attention_mask": torch.ones(16, dtype=torch.long), "labels": self.y[i]}


def main() -> None:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="clf-"), num_train_epochs=3,
                             per_device_train_batch_size=8, per_device_eval_batch_size=16,
                             gradient_accumulation_steps=2, learning_rate=1e-3, eval_strategy="epoch",
                             save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, logging_steps=5)
    trainer = Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=Sentences(320, 0),
                      eval_dataset=Sentences(64, 1))
    trainer.train()  # expect: FX401


if __name__ == "__main__":
    main()
