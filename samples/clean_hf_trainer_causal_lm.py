"""A tiny causal language model (a Llama built from a config, no download) fine-tuned with Hugging
Face's Trainer: gradient accumulation over 2 batches, a cosine schedule with warm-up, evaluation and
a checkpoint every epoch. The causal-LM loss is normalized by the number of tokens in the whole
accumulated batch (num_items_in_batch), so the Trainer does not divide it again."""
import tempfile

import torch
from torch.utils.data import Dataset
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments


class Tokens(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(0, 64, (n, 12), generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.x[i]}


def main() -> None:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16)
    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="lm-"), num_train_epochs=4,
                             per_device_train_batch_size=8, per_device_eval_batch_size=16,
                             gradient_accumulation_steps=2, learning_rate=3e-3, lr_scheduler_type="cosine",
                             warmup_steps=2, eval_strategy="epoch", save_strategy="epoch", save_total_limit=1,
                             report_to=[], use_cpu=True, disable_tqdm=True, logging_steps=5)
    trainer = Trainer(model=LlamaForCausalLM(config), args=args, train_dataset=Tokens(320, 0),
                      eval_dataset=Tokens(64, 1))
    trainer.train()


if __name__ == "__main__":
    main()
