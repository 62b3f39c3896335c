"""Discriminative learning rates / layer-wise LR decay (Howard & Ruder 2018; BEiT, ELECTRA).

The head trains at `train.lr`; the layer group below it at `decay * lr`, the next at
`decay**2 * lr`, down to the stem / embeddings. Groups come from `TransferModel.layer_groups()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fields import option
from .base import Strategy, default_param_groups
from .registry import register


@dataclass
class DiscriminativeLRConfig:
    decay: float = option(0.7, "Layer-wise LR decay: the head gets train.lr, each group below it `decay` times the one above.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("decay", 0 < self.decay <= 1, "must be in (0, 1]"),
        ]


@register("discriminative_lr", config=DiscriminativeLRConfig)
class DiscriminativeLR(Strategy):

    def param_groups(self, model, train_cfg) -> list[dict]:
        groups = model.layer_groups()
        decay = self.cfg.decay
        out = []
        for depth, names in enumerate(reversed(groups)):  # depth 0: the head
            lr = train_cfg.lr * decay ** depth
            out += default_param_groups(model, lr, train_cfg.weight_decay, names, prefix=f"group{len(groups) - 1 - depth}/")
        return out
