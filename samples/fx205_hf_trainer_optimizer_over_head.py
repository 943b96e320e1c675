"""A small BERT sequence classifier (built from a config, no download) fine-tuned with a Hugging Face
Trainer subclass whose compute_loss weights the classes, and an optimizer passed in by the script.

Bug: the optimizer was written for a "train the head first" experiment and built over the classifier
head only, while nothing freezes the encoder: backward writes gradients to every encoder parameter
and no optimizer applies them, so the encoder never trains."""
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


class WeightedTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)  # expect: FX205
        weight = torch.tensor([1.0, 2.0])
        loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weight)
        return (loss, outputs) if return_outputs else loss


def main() -> None:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="clf-"), num_train_epochs=3,
                             per_device_train_batch_size=8, per_device_eval_batch_size=16,
                             learning_rate=1e-3, eval_strategy="epoch",
                             save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, logging_steps=5)
    model = BertForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.classifier.parameters(), lr=1e-3)
    trainer = WeightedTrainer(model=model, args=args, train_dataset=Sentences(320, 0), eval_dataset=Sentences(64, 1),
                              optimizers=(optimizer, None))
    trainer.train()


if __name__ == "__main__":
    main()
