"""HF Trainer: tiny Llama causal LM on variable-length sequences with gradient accumulation.

Correct: a Trainer subclass overrides compute_loss with a token-level cross-entropy that sums
over the (shifted, non-padding) target tokens of the micro-batch and divides by the
`num_items_in_batch` the Trainer counts over the whole accumulated batch. Because
LlamaForCausalLM.forward accepts **kwargs, the Trainer treats that loss as already normalised
for accumulation and does not divide it again, so the K micro-batch gradients sum to the mean
over all tokens of the accumulated batch. Padding labels are -100 and ignored.
"""
import tempfile

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

torch.set_num_threads(1)

VOCAB = 80
PAD = 0
MAX_LEN = 24


class RepeatPatternDataset(Dataset):
    """Each sample repeats a random short pattern; lengths vary so token counts per batch differ."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.samples = []
        for _ in range(n):
            period = int(torch.randint(2, 5, (1,), generator=g))
            length = int(torch.randint(8, MAX_LEN + 1, (1,), generator=g))
            pattern = torch.randint(1, VOCAB, (period,), generator=g)
            self.samples.append(pattern.repeat(MAX_LEN // period + 1)[:length])

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return {"input_ids": self.samples[i]}


def collate(features):
    longest = max(f["input_ids"].numel() for f in features)
    ids = torch.full((len(features), longest), PAD, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, f in enumerate(features):
        n = f["input_ids"].numel()
        ids[row, :n] = f["input_ids"]
        mask[row, :n] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class TokenMeanTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits[:, :-1, :].float()
        targets = labels[:, 1:]
        token_loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100, reduction="sum"
        )
        if num_items_in_batch is None:
            num_items_in_batch = targets.ne(-100).sum()
        loss = token_loss / num_items_in_batch
        return (loss, outputs) if return_outputs else loss


def main():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=MAX_LEN,
        attention_dropout=0.1, pad_token_id=PAD, bos_token_id=1, eos_token_id=2,
    )
    model = LlamaForCausalLM(config)

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="llama_ga_"),
        use_cpu=True,
        report_to=[],
        num_train_epochs=3,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=16,
        gradient_accumulation_steps=4,
        learning_rate=3e-3,
        lr_scheduler_type="cosine",
        warmup_steps=2,
        weight_decay=0.01,
        max_grad_norm=1.0,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=4,
        seed=0,
        disable_tqdm=True,
    )
    trainer = TokenMeanTrainer(
        model=model,
        args=args,
        train_dataset=RepeatPatternDataset(256, 0),
        eval_dataset=RepeatPatternDataset(32, 1),
        data_collator=collate,
    )
    trainer.train()
    print(trainer.evaluate())


if __name__ == "__main__":
    main()
