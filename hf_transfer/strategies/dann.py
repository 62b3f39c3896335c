"""DANN: domain-adversarial training (Ganin et al., JMLR 2016, https://arxiv.org/abs/1505.07818).

A domain discriminator D learns to tell source features from target features; a gradient
reversal layer (GRL) between the features and D makes the backbone learn features D cannot
tell apart, while the head keeps them discriminative for the source labels:

    L = CE(C(f_s), y_s) + trade_off * [BCE(D(GRL_l(f_s)), 1) + BCE(D(GRL_l(f_t)), 0)] / 2

GRL_l is the identity forward and multiplies the gradient by -l backward, with
l = 2 / (1 + exp(-gamma * p)) - 1 rising from 0 to 1 over training progress p.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..fields import option
from .adapt import TEXT_ALIGNMENT_WARNING, AdaptStrategy, DomainDiscriminator, adversarial_loss
from .registry import register


@dataclass
class DannConfig:
    trade_off: float = option(1.0, "Weight of the domain-adversarial loss added to the source cross-entropy.")
    hidden: int = option(1024, "Width of the domain discriminator's two hidden layers.")
    gamma: float = option(10.0, "Ganin's schedule of the gradient-reversal coefficient: 2 / (1 + exp(-gamma * p)) - 1, "
                            "p = training progress in [0, 1].")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("trade_off", self.trade_off >= 0, "must be 0 or more"),
            ("hidden", self.hidden >= 1, "must be at least 1"),
        ]


@register("dann", config=DannConfig)
class Dann(AdaptStrategy):
    text_warning = TEXT_ALIGNMENT_WARNING

    def setup(self, model) -> None:
        model.domain_discriminator = DomainDiscriminator(model.feature_dim, self.cfg.hidden)

    def loss(self, step):
        loss, model, source, target, progress = step.loss, step.model, step.source, step.target, step.progress
        c = self.cfg
        x = torch.cat([source.features, target.features]).float()
        domain_loss, accuracy = adversarial_loss(model.domain_discriminator, x, len(source.features), progress, c.gamma)
        step.log(domain_loss=domain_loss, domain_accuracy=accuracy)
        return loss + c.trade_off * domain_loss
