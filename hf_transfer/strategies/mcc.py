"""MCC: minimum class confusion (Jin et al., ECCV 2020, https://arxiv.org/abs/1912.03699).

Needs no discriminator and works on any head: it lowers how much the target predictions confuse
one class with another. With target probabilities p = softmax(logits_t / T), sample weights
w = 1 + exp(-H(p)) normalised to mean 1 (constants: no gradient flows through them), and the class-correlation matrix C = (w * p)^T p,
rows normalised to sum 1:

    MCC = (sum(C) - trace(C)) / classes          L = CE(C(f_s), y_s) + trade_off * MCC
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..fields import option
from .adapt import TEXT_ALIGNMENT_WARNING, AdaptStrategy, entropy
from .registry import register


def mcc_loss(target_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    p = F.softmax(target_logits.float() / temperature, -1)
    w = 1.0 + torch.exp(-entropy(p.detach()))  # weights, not a target: no gradient (as the reference code)
    w = (len(w) * w / w.sum()).unsqueeze(1)
    c = (p * w).t() @ p
    c = c / c.sum(dim=1, keepdim=True)
    return (c.sum() - torch.trace(c)) / p.shape[1]


@dataclass
class MccConfig:
    trade_off: float = option(1.0, "Weight of the minimum class confusion loss on target predictions.")
    temperature: float = option(2.5, "Softmax temperature of the target predictions.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("trade_off", self.trade_off >= 0, "must be 0 or more"),
            ("temperature", self.temperature > 0, "must be positive"),
        ]


@register("mcc", config=MccConfig)
class Mcc(AdaptStrategy):
    text_warning = TEXT_ALIGNMENT_WARNING

    def loss(self, step):
        loss, target = step.loss, step.target
        c = self.cfg
        mcc = mcc_loss(target.logits, c.temperature)
        step.log(mcc=mcc)
        return loss + c.trade_off * mcc
