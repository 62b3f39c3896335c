"""Freezing: linear probe, partial freezing, gradual unfreezing.

Frozen means `requires_grad = False`; a BatchNorm whose weights are frozen also keeps its running
statistics (the model puts it in eval mode while training, see `TransferModel.train`), so a frozen
backbone stays bit-identical. Layer groups come from `TransferModel.layer_groups()`: timm's
`group_matcher` stages, or transformers' embeddings / encoder layers / pooler, the head last.
"""

from __future__ import annotations

import re

from .base import Strategy


def set_trainable(model, names: set[str], trainable: bool) -> None:
    for name, p in model.named_parameters():
        if name in names:
            p.requires_grad_(trainable)


def trainable_names(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


class LinearProbe(Strategy):
    """Only the new head trains; the backbone, BatchNorm statistics included, stays as it was."""

    name = "linear_probe"

    def setup(self, model) -> None:
        head = model.head_parameter_names()
        set_trainable(model, {n for n, _ in model.named_parameters() if n not in head}, False)


class Partial(Strategy):
    """Freeze the first `freeze_groups` layer groups and/or parameters matching `freeze_patterns`."""

    name = "partial"

    def setup(self, model) -> None:
        c = self.cfg.partial
        groups = model.layer_groups()[:-1]  # never the head
        frozen = {n for g in groups[: c.freeze_groups] for n in g}
        patterns = [re.compile(p) for p in c.freeze_patterns]
        frozen |= {n for n, _ in model.named_parameters() if any(p.search(n) for p in patterns)}
        set_trainable(model, frozen - model.head_parameter_names(), False)


class GradualUnfreeze(Strategy):
    """Head first; every `every_epochs` epochs the next deeper group(s) unfreeze (ULMFiT, Howard & Ruder 2018).

    The set of trainable parameters is saved by name in every checkpoint and restored on resume
    (Lightning's BaseFinetuning loses it; here it is also derivable from the epoch).
    """

    name = "gradual_unfreeze"

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
        c = self.cfg.gradual_unfreeze
        below_head = self.groups[:-1]
        thawed = min(len(below_head), (epoch // c.every_epochs) * c.groups_per_step)
        set_trainable(model, {n for g in below_head[len(below_head) - thawed:] for n in g}, True)
        self._trainable = trainable_names(model)

    def state_dict(self) -> dict:
        return {"trainable": self._trainable}

    def load_state_dict(self, state: dict) -> None:
        self._restored = state.get("trainable")
