"""Intent classifier (embedding + MLP over token ids) trained with a Hugging Face-style training loop.

Gradient accumulation over 4 micro-batches; the short last cycle of each epoch is flushed with its own divisor.
"""
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
    learning_rate: float = 1e-2
    warmup_steps: int = 2
    max_grad_norm: float = 1.0
    seed: int = 0


class IntentDataset(Dataset):
    def __init__(self, n, num_intents=5, seq_len=10, vocab=100, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, num_intents, (n,), generator=g)
        self.input_ids = torch.randint(num_intents * 4, vocab, (n, seq_len), generator=g)
        keyword = self.labels * 4 + torch.randint(0, 4, (n,), generator=g)
        self.input_ids[torch.arange(n), torch.randint(0, seq_len, (n,), generator=g)] = keyword

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.input_ids[i], "labels": self.labels[i]}


class IntentModel(nn.Module):
    def __init__(self, vocab=100, dim=32, num_intents=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 64), nn.GELU(), nn.Dropout(0.1), nn.Linear(64, num_intents))

    def forward(self, input_ids, labels=None):
        logits = self.mlp(self.embed(input_ids).max(dim=1).values)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


class Trainer:
    def __init__(self, model, args, train_dataset, eval_dataset):
        self.model, self.args = model, args
        self.train_dataset, self.eval_dataset = train_dataset, eval_dataset
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)

    def training_step(self, model, inputs, num_micro_batches):
        model.train()
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        loss = model(**inputs)["loss"]
        (loss / num_micro_batches).backward()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        total, correct, n = 0.0, 0, 0
        for inputs in DataLoader(self.eval_dataset, batch_size=64):
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            out = self.model(**inputs)
            total += out["loss"].item() * inputs["labels"].size(0)
            correct += (out["logits"].argmax(-1) == inputs["labels"]).sum().item()
            n += inputs["labels"].size(0)
        return {"eval_loss": total / n, "eval_acc": correct / n}

    def train(self):
        args = self.args
        train_dataloader = DataLoader(self.train_dataset, batch_size=args.per_device_train_batch_size, shuffle=True)
        num_batches = len(train_dataloader)
        accum = args.gradient_accumulation_steps
        updates_per_epoch = -(-num_batches // accum)
        max_steps = updates_per_epoch * args.num_train_epochs
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.learning_rate, weight_decay=0.01)
        lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / args.warmup_steps, max(0.0, (max_steps - s) / (max_steps - args.warmup_steps)))
        )

        global_step = 0
        optimizer.zero_grad()
        for epoch in range(args.num_train_epochs):
            tr_loss, seen = 0.0, 0
            for step, inputs in enumerate(train_dataloader):
                cycle_start = (step // accum) * accum
                cycle_len = min(accum, num_batches - cycle_start)
                tr_loss += self.training_step(self.model, inputs, cycle_len).item()
                seen += 1
                if (step + 1) % accum == 0 or (step + 1) == num_batches:
                    nn.utils.clip_grad_norm_(self.model.parameters(), args.max_grad_norm)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad()
                    global_step += 1
            metrics = self.evaluate()
            print(f"epoch {epoch + 1} global_step {global_step} train_loss {tr_loss / seen:.4f} "
                  f"eval_loss {metrics['eval_loss']:.4f} eval_acc {metrics['eval_acc']:.3f}")
        return global_step


def main():
    args = TrainingArguments()
    torch.manual_seed(args.seed)
    trainer = Trainer(IntentModel(), args, IntentDataset(288, seed=1), IntentDataset(128, seed=2))
    trainer.train()


if __name__ == "__main__":
    main()
