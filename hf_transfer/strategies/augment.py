"""Training-time augmentation ("rule transfer"): timm's RandAugment / AutoAugment, random erasing,
mixup / CutMix (timm.data.Mixup), and label smoothing.

RandAugment/AutoAugment and random erasing go into the image transform (timm's create_transform);
mixup/CutMix mix each batch and return soft targets; label smoothing applies to both images and text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..errors import UserError
from ..fields import option
from .base import Strategy
from .registry import register


@dataclass
class AugmentConfig:
    mixup: float = option(0.0, "Mixup alpha (0: off).")
    cutmix: float = option(0.0, "CutMix alpha (0: off).")
    auto_augment: Optional[str] = option(None, "timm auto-augment policy, e.g. rand-m9-mstd0.5 (RandAugment) or original (AutoAugment).")
    random_erasing: float = option(0.0, "Random erasing probability.")
    label_smoothing: float = option(0.0, "Label smoothing (also applied to mixup/cutmix targets).")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("mixup", self.mixup >= 0, "must be 0 or more"),
            ("cutmix", self.cutmix >= 0, "must be 0 or more"),
            ("random_erasing", 0 <= self.random_erasing <= 1, "must be in [0, 1]"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "must be in [0, 1)"),
        ]


@register("augment", config=AugmentConfig)
class Augment(Strategy):
    dense_targets = False  # set by check_task: multi_label targets (0/1 per label), mixed and smoothed as they are

    def data_augment(self) -> dict:
        c = self.cfg
        out = {}
        if c.auto_augment:
            out["auto_augment"] = c.auto_augment
        if c.random_erasing:
            out["re_prob"] = c.random_erasing
        return out

    def check_task(self, task) -> None:
        """Image augmentation runs on every task; mixup, CutMix and label smoothing mix or soften the targets of a
        task that takes soft targets (classes, tags), not a regression's."""
        c = self.cfg
        if (c.mixup or c.cutmix or c.label_smoothing) and not task.soft_targets:
            raise UserError(f"strategy.augment: mixup, cutmix and label_smoothing give soft class targets, which task "
                            f"{task.name} does not train on; set them to 0 (auto_augment and random_erasing still run)")
        self.dense_targets = not task.single_class

    def setup(self, model) -> None:
        c = self.cfg
        self.num_classes = len(model.label_names)
        self.mixer = None
        if (c.mixup or c.cutmix) and model.modality == "image":
            from timm.data import Mixup

            self.mixer = Mixup(mixup_alpha=c.mixup, cutmix_alpha=c.cutmix, label_smoothing=c.label_smoothing,
                               num_classes=self.num_classes, multi_label=self.dense_targets)

    def mix(self, step):
        c = self.cfg
        labels = step.batch["labels"]
        if self.mixer is not None and labels.shape[0] % 2 == 0:  # timm mixes pairs: even batches only
            x, step.soft_targets = self.mixer(step.batch["pixel_values"], labels)
            step.batch = {**step.batch, "pixel_values": x}
        elif c.label_smoothing and self.dense_targets:  # tags: towards 0.5, as timm smooths them
            step.soft_targets = labels.float() * (1.0 - c.label_smoothing) + 0.5 * c.label_smoothing
        elif c.label_smoothing:
            off = c.label_smoothing / self.num_classes
            targets = torch.full((labels.shape[0], self.num_classes), off, device=labels.device)
            step.soft_targets = targets.scatter_(1, labels[:, None], 1.0 - c.label_smoothing + off)
