"""DANN: domain-adversarial training (Ganin et al., JMLR 2016, https://arxiv.org/abs/1505.07818).

A domain discriminator D learns to tell source features from target features; a gradient
reversal layer (GRL) between the features and D makes the backbone learn features D cannot
tell apart, while the head keeps them discriminative for the source labels:

    L = CE(C(f_s), y_s) + trade_off * [BCE(D(GRL_l(f_s)), 1) + BCE(D(GRL_l(f_t)), 0)] / 2

GRL_l is the identity forward and multiplies the gradient by -l backward, with
l = 2 / (1 + exp(-gamma * p)) - 1 rising from 0 to 1 over training progress p.
"""

from __future__ import annotations

import torch

from .adapt import AdaptStrategy, DomainDiscriminator, adversarial_loss


class Dann(AdaptStrategy):
    name = "dann"

    def setup(self, model) -> None:
        model.domain_discriminator = DomainDiscriminator(model.feature_dim, self.cfg.dann.hidden)

    def adapt(self, loss, model, source, target, progress):
        c = self.cfg.dann
        x = torch.cat([source.features, target.features]).float()
        domain_loss, accuracy = adversarial_loss(model.domain_discriminator, x, len(source.features), progress, c.gamma)
        self.log(domain_loss=domain_loss, domain_accuracy=accuracy)
        return loss + c.trade_off * domain_loss
