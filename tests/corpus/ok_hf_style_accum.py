"""Sequence classification with a tiny Transformer encoder and a HF-Trainer-like training loop.

Supports gradient accumulation, max-grad-norm clipping and a linear warmup/decay schedule.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


@dataclass
class TrainingArguments:
    num_train_epochs: int = 3
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 32
    gradient_accumulation_steps: int = 4
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    logging_steps: int = 2
    seed: int = 42


class ToySentimentDataset(Dataset):
    def __init__(self, n, vocab_size=200, seq_len=16, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(5, vocab_size, (n, seq_len), generator=g)
        self.labels = (self.input_ids[:, :4].float().mean(1) > vocab_size / 2).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.input_ids[i], "labels": self.labels[i]}


class TinyEncoderForSequenceClassification(nn.Module):
    def __init__(self, vocab_size=200, d_model=32, nhead=4, num_layers=1, num_labels=2, max_len=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers)
        self.norm = nn.LayerNorm(d_model)
        self.classifier = nn.Linear(d_model, num_labels)

    def forward(self, input_ids, labels=None):
        h = self.embed(input_ids) + self.pos[:, : input_ids.size(1)]
        h = self.norm(self.encoder(h)).mean(dim=1)
        logits = self.classifier(h)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(
            0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps))
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


class SimpleTrainer:
    def __init__(self, model, args, train_dataset, eval_dataset=None):
        self.model = model
        self.args = args
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.optimizer = None
        self.lr_scheduler = None

    def get_train_dataloader(self):
        return DataLoader(self.train_dataset, batch_size=self.args.per_device_train_batch_size, shuffle=True)

    def get_eval_dataloader(self):
        return DataLoader(self.eval_dataset, batch_size=self.args.per_device_eval_batch_size)

    def create_optimizer_and_scheduler(self, num_training_steps):
        no_decay = ["bias", "norm.weight", "pos"]
        grouped = [
            {
                "params": [p for n, p in self.model.named_parameters() if not any(nd in n for nd in no_decay)],
                "weight_decay": self.args.weight_decay,
            },
            {
                "params": [p for n, p in self.model.named_parameters() if any(nd in n for nd in no_decay)],
                "weight_decay": 0.0,
            },
        ]
        self.optimizer = torch.optim.AdamW(grouped, lr=self.args.learning_rate)
        self.lr_scheduler = get_linear_schedule_with_warmup(
            self.optimizer, math.ceil(self.args.warmup_ratio * num_training_steps), num_training_steps
        )

    def _prepare_inputs(self, inputs):
        return {k: v.to(self.device) for k, v in inputs.items()}

    def compute_loss(self, model, inputs):
        outputs = model(**inputs)
        return outputs["loss"]

    def training_step(self, model, inputs):
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs)
        (loss / self.args.gradient_accumulation_steps).backward()
        return loss.detach()

    def train(self):
        args = self.args
        train_dataloader = self.get_train_dataloader()
        num_update_steps_per_epoch = math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)
        max_steps = num_update_steps_per_epoch * args.num_train_epochs
        self.create_optimizer_and_scheduler(max_steps)

        model = self.model
        global_step = 0
        model.zero_grad()
        for epoch in range(args.num_train_epochs):
            steps_in_epoch = len(train_dataloader)
            logging_loss, logging_count = 0.0, 0
            for step, inputs in enumerate(train_dataloader):
                tr_loss_step = self.training_step(model, inputs)
                logging_loss += tr_loss_step.item()
                logging_count += 1

                last_step_in_epoch = (step + 1) == steps_in_epoch
                if (step + 1) % args.gradient_accumulation_steps == 0 or last_step_in_epoch:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                    self.optimizer.step()
                    self.lr_scheduler.step()
                    model.zero_grad()
                    global_step += 1

                    if global_step % args.logging_steps == 0:
                        print(
                            {
                                "epoch": round(epoch + (step + 1) / steps_in_epoch, 2),
                                "step": global_step,
                                "loss": round(logging_loss / logging_count, 4),
                                "learning_rate": self.lr_scheduler.get_last_lr()[0],
                            }
                        )
                        logging_loss, logging_count = 0.0, 0
            if self.eval_dataset is not None:
                print({"epoch": epoch + 1, **self.evaluate()})
        return global_step

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        total_loss, correct, n = 0.0, 0, 0
        for inputs in self.get_eval_dataloader():
            inputs = self._prepare_inputs(inputs)
            out = self.model(**inputs)
            bs = inputs["labels"].size(0)
            total_loss += out["loss"].item() * bs
            correct += (out["logits"].argmax(-1) == inputs["labels"]).sum().item()
            n += bs
        return {"eval_loss": round(total_loss / n, 4), "eval_accuracy": round(correct / n, 4)}


def main():
    args = TrainingArguments()
    torch.manual_seed(args.seed)
    train_ds = ToySentimentDataset(160, seed=1)
    eval_ds = ToySentimentDataset(64, seed=2)
    model = TinyEncoderForSequenceClassification()
    trainer = SimpleTrainer(model, args, train_ds, eval_ds)
    steps = trainer.train()
    print(f"finished: {steps} optimizer steps")


if __name__ == "__main__":
    main()
