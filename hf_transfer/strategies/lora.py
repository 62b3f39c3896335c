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

from ..fields import option
from .base import Strategy
from .registry import register


def default_targets(model) -> list[str]:
    """The layers LoRA adapts unless strategy.lora.target_modules names them: the library adapter's choice."""
    return model.adapter.lora_targets(model)


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
