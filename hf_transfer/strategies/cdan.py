"""CDAN+E: conditional domain adversarial networks (Long et al., NeurIPS 2018, https://arxiv.org/abs/1705.10667).

Like DANN, but the discriminator sees the features *conditioned on the predictions*: the
multilinear map h = f (x) g (outer product of features f and class probabilities g, flattened),
or, with `cdan.randomized` (the reference's --randomized, for when dim(f) * classes is large), the
randomized map h = (R_f f) * (R_g g) / sqrt(d) of size d = `randomized_dim`, with fixed Gaussian R_f, R_g. With entropy conditioning (+E)
each sample is weighted by w = 1 + exp(-H(g)), normalised to mean 1 over the batch, so the
confidently predicted samples, whose conditioning is trustworthy, count more:

    L = CE(C(f_s), y_s) + trade_off * sum_i w_i BCE(D(GRL_l(h_i)), domain_i) / n

g is detached (as in the paper's code): the reversed gradient reaches the backbone through f.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..fields import option
from .adapt import TEXT_ALIGNMENT_WARNING, AdaptStrategy, DomainDiscriminator, adversarial_loss, entropy
from .dann import DannConfig
from .registry import register


@dataclass
class CdanConfig(DannConfig):
    entropy: bool = option(True, "Entropy conditioning (CDAN+E): weight each sample by 1 + exp(-entropy of its prediction).")
    randomized: bool = option(False, "Use the randomized multilinear map (size randomized_dim) instead of the full one, "
                                 "as the reference's --randomized. The full map has features x classes inputs "
                                 "(with the 256-wide bottleneck and 10 classes: 2,560, a 2.6M-parameter first "
                                 "discriminator layer); turn this on when that is too large (above ~4,096).")
    randomized_dim: int = option(1024, "Size of the randomized multilinear map (with randomized: true).")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            *super().rules(),
            ("randomized_dim", self.randomized_dim >= 1, "must be at least 1"),
        ]


class MultilinearMap(nn.Module):
    """f (x) g, or its randomized version of size `dim` (with a `dim`)."""

    def __init__(self, features: int, classes: int, dim: int | None = None):
        super().__init__()
        self.randomized = dim is not None
        self.out_features = dim if self.randomized else features * classes
        if self.randomized:  # fixed, saved with the checkpoints
            self.register_buffer("rf", torch.randn(features, dim))
            self.register_buffer("rg", torch.randn(classes, dim))

    def forward(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        if self.randomized:
            return (f @ self.rf) * (g @ self.rg) / math.sqrt(self.out_features)
        return torch.bmm(g.unsqueeze(2), f.unsqueeze(1)).flatten(1)


@register("cdan", config=CdanConfig)
class Cdan(AdaptStrategy):
    text_warning = TEXT_ALIGNMENT_WARNING

    def setup(self, model) -> None:
        c = self.cfg
        model.multilinear_map = MultilinearMap(model.feature_dim, len(model.label_names),
                                              c.randomized_dim if c.randomized else None)
        model.domain_discriminator = DomainDiscriminator(model.multilinear_map.out_features, c.hidden)

    def loss(self, step):
        loss, model, source, target, progress = step.loss, step.model, step.source, step.target, step.progress
        c = self.cfg
        f = torch.cat([source.features, target.features]).float()
        g = F.softmax(torch.cat([source.logits, target.logits]).float(), -1).detach()
        weight = None
        if c.entropy:
            w = 1.0 + torch.exp(-entropy(g))
            weight = w / w.sum() * len(w)
        domain_loss, accuracy = adversarial_loss(model.domain_discriminator, model.multilinear_map(f, g),
                                                 len(source.features), progress, c.gamma, weight)
        step.log(domain_loss=domain_loss, domain_accuracy=accuracy)
        return loss + c.trade_off * domain_loss
