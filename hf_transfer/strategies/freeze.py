"""Freezing: linear probe, partial freezing, gradual unfreezing.

Frozen means `requires_grad = False`; a BatchNorm whose weights are frozen also keeps its running
statistics (the model puts it in eval mode while training, see `TransferModel.train`), so a frozen
backbone stays bit-identical. Layer groups come from `TransferModel.layer_groups()`: timm's
`group_matcher` stages, or transformers' embeddings / encoder layers / pooler, the head last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..fields import option
from .base import Strategy
from .registry import register


def set_trainable(model, names: set[str], trainable: bool) -> None:
    for name, p in model.named_parameters():
        if name in names:
            p.requires_grad_(trainable)


def trainable_names(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


@dataclass
class PartialConfig:
    freeze_groups: int = option(0, "Freeze the first N layer groups (timm group_matcher stages / transformers embeddings + encoder layers).")
    freeze_patterns: list = option([], "Also freeze parameters whose name matches any of these regular expressions.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("freeze_groups", self.freeze_groups >= 0, "must be 0 or more"),
        ]


@dataclass
class GradualUnfreezeConfig:
    every_epochs: int = option(1, "Unfreeze the next deeper group every N epochs (the head trains from the start).")
    groups_per_step: int = option(1, "Groups unfrozen at each step, from the head towards the input.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("every_epochs", self.every_epochs >= 1, "must be at least 1"),
            ("groups_per_step", self.groups_per_step >= 1, "must be at least 1"),
        ]


@register("linear_probe")
class LinearProbe(Strategy):
    """Only the new head trains; the backbone, BatchNorm statistics included, stays as it was."""

    def setup(self, model) -> None:
        head = model.head_parameter_names()
        set_trainable(model, {n for n, _ in model.named_parameters() if n not in head}, False)


@register("partial", config=PartialConfig)
class Partial(Strategy):
    """Freeze the first `freeze_groups` layer groups and/or parameters matching `freeze_patterns`."""

    def setup(self, model) -> None:
        c = self.cfg
        groups = model.layer_groups()[:-1]  # never the head
        frozen = {n for g in groups[: c.freeze_groups] for n in g}
        patterns = [re.compile(p) for p in c.freeze_patterns]
        frozen |= {n for n, _ in model.named_parameters() if any(p.search(n) for p in patterns)}
        set_trainable(model, frozen - model.head_parameter_names(), False)


@register("gradual_unfreeze", config=GradualUnfreezeConfig)
class GradualUnfreeze(Strategy):
    """Head first; every `every_epochs` epochs the next deeper group(s) unfreeze (ULMFiT, Howard & Ruder 2018).

    The set of trainable parameters is saved by name in every checkpoint and restored on resume
    (Lightning's BaseFinetuning loses it; here it is also derivable from the epoch).
    """

    single_process = "DDP only syncs the parameters that train from the start"

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.groups: list[list[str]] = []
        self._trainable: list[str] = []
        self._restored: list[str] | None = None

    def setup(self, model) -> None:
        self.groups = model.layer_groups()
        set_trainable(model, {n for g in self.groups[:-1] for n in g}, False)

    def on_epoch_start(self, epoch: int, model) -> None:
        if self._restored is not None:  # resumed: exactly the parameters that were trainable
            names = set(self._restored)
            for n, p in model.named_parameters():
                p.requires_grad_(n in names)
            self._restored = None
        c = self.cfg
        below_head = self.groups[:-1]
        thawed = min(len(below_head), (epoch // c.every_epochs) * c.groups_per_step)
        set_trainable(model, {n for g in below_head[len(below_head) - thawed:] for n in g}, True)
        self._trainable = trainable_names(model)

    def state_dict(self) -> dict:
        return {"trainable": self._trainable}

    def load_state_dict(self, state: dict) -> None:
        self._restored = state.get("trainable")
