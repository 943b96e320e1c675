"""Tiny Transformer encoder for sequence classification, trained with a Hugging Face-style loop.

TrainingArguments/Trainer mimic transformers: linear warmup/decay, gradient accumulation, grad clipping.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


@dataclass
class TrainingArguments:
    num_train_epochs: int = 3
    per_device_train_batch_size: int = 16
    gradient_accumulation_steps: int = 4
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    logging_steps: int = 2
    seed: int = 42


class MajorityTokenDataset(Dataset):
    """label = 1 if token 3 occurs more often than token 4 in the sequence."""

    def __init__(self, n, seq_len=12, vocab=12, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(1, vocab, (n, seq_len), generator=g)
        self.labels = ((self.input_ids == 3).sum(1) > (self.input_ids == 4).sum(1)).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.input_ids[i], "labels": self.labels[i]}


class EncoderForSequenceClassification(nn.Module):
    def __init__(self, vocab=12, d_model=24, nhead=4, num_layers=2, num_labels=2, max_len=12):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=48, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers)
        self.classifier = nn.Linear(d_model, num_labels)

    def forward(self, input_ids, labels=None):
        h = self.encoder(self.embed(input_ids) + self.pos[:, : input_ids.size(1)])
        logits = self.classifier(h.mean(dim=1))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


class Trainer:
    def __init__(self, model, args, train_dataset, eval_dataset):
        self.model = model
        self.args = args
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)

    def create_optimizer_and_scheduler(self, num_training_steps):
        decay = [p for n, p in self.model.named_parameters() if p.dim() > 1]
        no_decay = [p for n, p in self.model.named_parameters() if p.dim() <= 1]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.args.learning_rate,
        )
        self.lr_scheduler = get_linear_schedule_with_warmup(
            self.optimizer, math.ceil(self.args.warmup_ratio * num_training_steps), num_training_steps
        )

    def _prepare_inputs(self, inputs):
        return {k: v.to(self.device) for k, v in inputs.items()}

    def compute_loss(self, model, inputs):
        return model(**inputs)["loss"]

    def training_step(self, model, inputs):
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs)
        loss.backward()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        loader = DataLoader(self.eval_dataset, batch_size=64)
        total_loss, correct, n = 0.0, 0, 0
        for inputs in loader:
            out = self.model(**self._prepare_inputs(inputs))
            total_loss += out["loss"].item() * inputs["labels"].size(0)
            correct += (out["logits"].argmax(-1).cpu() == inputs["labels"]).sum().item()
            n += inputs["labels"].size(0)
        return {"eval_loss": total_loss / n, "eval_accuracy": correct / n}

    def train(self):
        args = self.args
        torch.manual_seed(args.seed)
        train_dataloader = DataLoader(self.train_dataset, batch_size=args.per_device_train_batch_size, shuffle=True)
        num_update_steps_per_epoch = max(len(train_dataloader) // args.gradient_accumulation_steps, 1)
        max_steps = num_update_steps_per_epoch * args.num_train_epochs
        self.create_optimizer_and_scheduler(max_steps)

        global_step = 0
        tr_loss = torch.tensor(0.0, device=self.device)
        logging_loss_scalar = 0.0
        self.model.zero_grad()
        for epoch in range(args.num_train_epochs):
            for step, inputs in enumerate(train_dataloader):
                tr_loss += self.training_step(self.model, inputs)
                if (step + 1) % args.gradient_accumulation_steps == 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), args.max_grad_norm)
                    self.optimizer.step()
                    self.lr_scheduler.step()
                    self.model.zero_grad()
                    global_step += 1
                    if global_step % args.logging_steps == 0:
                        tr_loss_scalar = tr_loss.item()
                        avg = (tr_loss_scalar - logging_loss_scalar) / (args.logging_steps * args.gradient_accumulation_steps)
                        print(f"step {global_step} loss {avg:.4f} lr {self.lr_scheduler.get_last_lr()[0]:.2e}")
                        logging_loss_scalar = tr_loss_scalar
            print(f"epoch {epoch + 1}: {self.evaluate()}")
        return global_step


def main():
    args = TrainingArguments()
    torch.manual_seed(args.seed)
    model = EncoderForSequenceClassification()
    trainer = Trainer(model, args, MajorityTokenDataset(256, seed=1), MajorityTokenDataset(128, seed=2))
    trainer.train()


if __name__ == "__main__":
    main()
