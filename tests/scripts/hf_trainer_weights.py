"""A Hugging Face Trainer fit (a tiny causal LM built from a config, accumulation 2, cosine schedule
with warm-up) whose weights are hashed at every epoch end into `--out`. Its training loader is built
in get_train_dataloader; `--limit N` truncates its batch sampler to N batches by hand (len() says N),
the plain-run equivalent of fxcheck's --steps N, and `--epochs` sets num_train_epochs."""
import argparse
import hashlib
import itertools
import json
import tempfile

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments


class Tokens(Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randint(0, 64, (n, 12), generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.x[i]}


class FirstBatches(BatchSampler):
    def __init__(self, inner: BatchSampler, n: int | None) -> None:
        self.inner, self.n = inner, n
        self.batch_size, self.drop_last, self.sampler = inner.batch_size, inner.drop_last, inner.sampler

    def __iter__(self):
        return itertools.islice(iter(self.inner), self.n)

    def __len__(self) -> int:
        return len(self.inner) if self.n is None else min(self.n, len(self.inner))


class LimitedTrainer(Trainer):
    limit: int | None = None

    def get_train_dataloader(self):
        batches = FirstBatches(BatchSampler(RandomSampler(self.train_dataset), 8, drop_last=False), self.limit)
        return self.accelerator.prepare(DataLoader(self.train_dataset, batch_sampler=batches,
                                                   collate_fn=self.data_collator))


class Hashes(TrainerCallback):
    def __init__(self) -> None:
        self.epochs: list[str] = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        blob = b"".join(t.detach().numpy().tobytes() for t in model.state_dict().values())
        self.epochs.append(hashlib.sha256(blob).hexdigest())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=5)
    a = parser.parse_args()
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=2, max_position_embeddings=16)
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=a.epochs, per_device_train_batch_size=8,
                             gradient_accumulation_steps=2, learning_rate=3e-3, lr_scheduler_type="cosine",
                             warmup_steps=2, eval_strategy="no", save_strategy="no", report_to=[], use_cpu=True,
                             disable_tqdm=True, logging_strategy="no", seed=0)
    hashes = Hashes()
    LimitedTrainer.limit = a.limit
    trainer = LimitedTrainer(model=LlamaForCausalLM(cfg), args=args, train_dataset=Tokens(256), callbacks=[hashes])
    try:
        trainer.train()
    finally:  # fxcheck stops the run after the first step past its epochs: keep what was hashed
        with open(a.out, "w") as f:
            json.dump({"epochs": hashes.epochs, "max_steps": trainer.state.max_steps}, f)


if __name__ == "__main__":
    main()
