"""Self-training on the pseudo-labels of a fixed, already adapted teacher.

Start it from a model adapted to the target without labels (the domain_adaptation recipe starts it
from adabn's model of the same seed). At `setup` a frozen copy of that model becomes the teacher; it
stays in eval mode, so its BatchNorm layers keep the target statistics adabn estimated. Every step
the teacher labels the unlabelled target batch, and the targets it is confident about join the
loss (pseudo-labelling, Lee 2013; with a fixed teacher and a confidence threshold, as in the
self-training baselines of Zou et al. 2018, https://arxiv.org/abs/1810.07911):

    L = CE(source logits, source labels) + trade_off * CE(target logits, teacher's class),
        averaged over the target samples whose teacher probability is >= threshold

The student never teaches itself, so its own mistakes are not reinforced (what makes mcc fall
after its peak on the digits benchmark); it learns target-domain features from the teacher's
confident labels and generalises them to the targets the teacher was unsure of. Target labels are
never read. It reports the share of target samples kept (`pseudo_kept` in metrics.json's train_terms).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..fields import option
from .adapt import AdaptStrategy
from .registry import register


@dataclass
class SelfTrainingConfig:
    trade_off: float = option(1.0, "Weight of the cross-entropy on the teacher's pseudo-labels of the target.")
    threshold: float = option(0.9, "A target sample joins the loss when the teacher's top probability is at least this.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("trade_off", self.trade_off >= 0, "must be 0 or more"),
            ("threshold", 0 <= self.threshold < 1, "must be in [0, 1)"),
        ]


@register("self_training", config=SelfTrainingConfig)
class SelfTraining(AdaptStrategy):

    def setup(self, model) -> None:
        self.teacher = copy.deepcopy(model).eval().requires_grad_(False)

    def loss(self, step):
        loss, target = step.loss, step.target
        c = self.cfg
        teacher = self.teacher
        if next(teacher.parameters()).device != target.logits.device:
            teacher.to(target.logits.device)
        with torch.no_grad():
            probs = F.softmax(teacher(target.inputs).float(), -1)
        confidence, pseudo = probs.max(-1)
        keep = (confidence >= c.threshold).float()
        per_sample = F.cross_entropy(target.logits.float(), pseudo, reduction="none")
        pseudo_loss = (per_sample * keep).sum() / keep.sum().clamp(min=1.0)
        step.log(pseudo_loss=pseudo_loss, pseudo_kept=keep.mean())
        return loss + c.trade_off * pseudo_loss
