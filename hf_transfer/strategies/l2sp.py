"""L2-SP: keep the transferred weights near their pretrained values (Li, Grandvalet & Davoine 2018).

    loss = task loss + alpha/2 * sum ||w - w0||^2 (transferred weights) + beta/2 * sum ||w_head||^2

w0 are the weights as loaded, before any training (also on --resume: setup runs before the
checkpoint is restored). Use it with train.weight_decay = 0: L2-SP replaces plain weight decay.
Paper: https://arxiv.org/abs/1802.01483
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..fields import option
from .base import Strategy
from .registry import register


@dataclass
class L2SPConfig:
    alpha: float = option(0.01, "Weight of alpha/2 * ||w - w0||^2 on the transferred weights (w0: the pretrained ones).")
    beta: float = option(0.01, "Weight of beta/2 * ||w_head||^2 on the new head.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("alpha", self.alpha >= 0, "must be 0 or more"),
            ("beta", self.beta >= 0, "must be 0 or more"),
        ]


@register("l2sp", config=L2SPConfig)
class L2SP(Strategy):

    def setup(self, model) -> None:
        head = model.head_parameter_names()
        self.w0 = {n: p.detach().clone() for n, p in model.named_parameters() if n not in head}
        self.head = head

    def penalty(self, model) -> torch.Tensor:
        c = self.cfg
        params = dict(model.named_parameters())
        device = next(iter(params.values())).device
        source = torch.zeros((), device=device)
        for n, w0 in self.w0.items():
            if params[n].requires_grad:
                if w0.device != device:
                    self.w0[n] = w0 = w0.to(device)
                source = source + (params[n] - w0).pow(2).sum()
        head = sum((params[n].pow(2).sum() for n in self.head), torch.zeros((), device=device))
        return c.alpha / 2 * source + c.beta / 2 * head

    def loss(self, step):
        loss, model = step.loss, step.model
        return loss + self.penalty(model)
