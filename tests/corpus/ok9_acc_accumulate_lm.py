"""Accelerate training of a tiny GPT-2 language model with gradient accumulation and checkpoints.

Correct reference loop: the Accelerator owns accumulation (gradient_accumulation_steps=4 with
`accelerator.accumulate(model)`, so `accelerator.backward` divides the loss and the prepared
optimizer/scheduler only step on sync micro-batches); clipping uses `accelerator.clip_grad_norm_`
under `sync_gradients` before the step; model, optimizer, loaders and scheduler all go through
`prepare`, so `accelerator.save_state` at each epoch end captures the scheduler too; evaluation
runs in eval mode under no_grad.
"""
import math
import os
import tempfile

import torch
from torch.utils.data import DataLoader, Dataset
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import GPT2Config, GPT2LMHeadModel, get_cosine_schedule_with_warmup

torch.set_num_threads(1)

VOCAB = 64
BLOCK = 32
MICRO_BATCH = 4
GRAD_ACCUM = 4
EPOCHS = 3


class ArithmeticSequences(Dataset):
    """Sequences x_t = (a + b*t) mod VOCAB: learnable next-token structure."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        a = torch.randint(0, VOCAB, (n, 1), generator=g)
        b = torch.randint(1, 7, (n, 1), generator=g)
        t = torch.arange(BLOCK)[None, :]
        self.tokens = (a + b * t) % VOCAB

    def __len__(self):
        return self.tokens.size(0)

    def __getitem__(self, i):
        ids = self.tokens[i]
        return {"input_ids": ids, "labels": ids.clone()}


def main():
    set_seed(42)
    accelerator = Accelerator(cpu=True, gradient_accumulation_steps=GRAD_ACCUM)
    out_dir = tempfile.mkdtemp(prefix="gpt2_accum_")

    config = GPT2Config(
        vocab_size=VOCAB, n_positions=BLOCK, n_embd=32, n_layer=2, n_head=2,
        resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
        bos_token_id=0, eos_token_id=0,
    )
    model = GPT2LMHeadModel(config)

    train_loader = DataLoader(ArithmeticSequences(256, seed=0), batch_size=MICRO_BATCH, shuffle=True)
    eval_loader = DataLoader(ArithmeticSequences(64, seed=1), batch_size=16)

    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05, betas=(0.9, 0.95))
    updates_per_epoch = math.ceil(len(train_loader) / GRAD_ACCUM)
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps=3, num_training_steps=updates_per_epoch * EPOCHS
    )

    model, optimizer, train_loader, eval_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, eval_loader, scheduler
    )

    for epoch in range(EPOCHS):
        model.train()
        for batch in train_loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()

        model.eval()
        losses = []
        with torch.no_grad():
            for batch in eval_loader:
                loss = model(**batch).loss
                losses.append(accelerator.gather_for_metrics(loss.repeat(batch["input_ids"].size(0))))
        eval_loss = torch.cat(losses).mean().item()
        accelerator.print(f"epoch {epoch}: eval loss {eval_loss:.4f} ppl {math.exp(eval_loss):.2f}")

        accelerator.save_state(os.path.join(out_dir, f"checkpoint-epoch{epoch}"))


if __name__ == "__main__":
    main()
