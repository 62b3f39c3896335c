"""LoRA adapters through peft (Hu et al. 2021), for transformers and timm backbones.

The backbone is frozen; low-rank adapters train in the targeted layers, and the new head trains in
full (peft's `modules_to_save`, so it is saved with the adapters: peft's well-known pitfall is a
classification head that is trained but not saved). `lora.save: merged` (default) merges the
adapters into the weights and saves a plain timm / transformers model; `adapter` saves the peft
adapter and the head alone. Default targets: the attention projections of transformers models;
every Linear and non-grouped Conv2d of a timm backbone. Paper: https://arxiv.org/abs/2106.09685
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from torch import nn

from ..fields import option
from .base import Strategy
from .registry import register

_ATTENTION = ("query", "key", "value", "q_proj", "k_proj", "v_proj", "qkv", "q_lin", "v_lin")


def default_targets(model) -> list[str]:
    head = {id(m) for m in model.head.modules()}
    names = []
    for name, m in model.net.named_modules():
        if id(m) in head:
            continue
        leaf = name.rsplit(".", 1)[-1]
        if model.library == "transformers":
            if isinstance(m, nn.Linear) and leaf in _ATTENTION:
                names.append(name)
        elif isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.groups == 1):
            names.append(name)
    return names


@dataclass
class LoraConfig:
    r: int = option(8, "LoRA rank.")
    alpha: int = option(16, "LoRA scaling (lora_alpha).")
    dropout: float = option(0.0, "Dropout on the LoRA branch.")
    target_modules: list = option([], "Module names to adapt; empty: the attention projections of transformers models, "
                                  "or every Linear/Conv2d layer of the backbone for timm models.")
    save: Literal["merged", "adapter"] = option("merged", "Save the model with the adapters merged in (loads as a plain "
                                                        "model), or the peft adapter (+ head) alone.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("r", self.r >= 1, "must be at least 1"),
            ("dropout", 0 <= self.dropout < 1, "must be in [0, 1)"),
        ]


@register("lora", config=LoraConfig)
class Lora(Strategy):
    not_with = ("partial", "gradual_unfreeze", "discriminative_lr", "l2sp")
    not_with_why = "they work on the backbone's own weights, which LoRA freezes"

    def setup(self, model) -> None:
        from peft import LoraConfig as PeftLoraConfig
        from peft import get_peft_model

        c = self.cfg
        config = PeftLoraConfig(r=c.r, lora_alpha=c.alpha, lora_dropout=c.dropout,
                            target_modules=list(c.target_modules) or default_targets(model),
                            modules_to_save=[model.head_attr])
        model.net = get_peft_model(model.net, config)

    def save(self, model, directory, image_size) -> bool:
        if self.cfg.save == "adapter":
            model.net.save_pretrained(directory)
            if model.processor is not None:
                model.processor.save_pretrained(directory)
            return True
        peft_net = model.net
        model.net = copy.deepcopy(peft_net).merge_and_unload()  # a copy: merging changes the model in place
        try:
            model.save_pretrained(directory, image_size=image_size)
        finally:
            model.net = peft_net
        return True
