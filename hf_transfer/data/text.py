"""Text preprocessing: tokenize once (datasets.map), pad per batch (dynamic padding)."""

from __future__ import annotations

import datasets
from transformers import DataCollatorWithPadding


def tokenize(ds: datasets.Dataset, tokenizer, max_length: int) -> datasets.Dataset:
    """Token ids truncated to `max_length`, unpadded; `label` (if any) becomes `labels`."""
    out = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                 batched=True, remove_columns=["text"], desc="Tokenizing")
    return out.rename_column("label", "labels") if "label" in out.column_names else out


def collator(tokenizer, max_length: int | None = None):
    """Pads each batch to its longest sample (to a multiple of 8, which tensor cores like), or with
    `max_length` every batch to that length (static shapes)."""
    if max_length is not None:
        return DataCollatorWithPadding(tokenizer, padding="max_length", max_length=max_length)
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
