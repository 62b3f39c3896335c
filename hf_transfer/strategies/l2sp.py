"""L2-SP: keep the transferred weights near their pretrained values (Li, Grandvalet & Davoine 2018).

    loss = task loss + alpha/2 * sum ||w - w0||^2 (transferred weights) + beta/2 * sum ||w_head||^2

w0 are the weights as loaded, before any training (also on --resume: setup runs before the
checkpoint is restored). Use it with train.weight_decay = 0: L2-SP replaces plain weight decay.
Paper: https://arxiv.org/abs/1802.01483
"""

from __future__ import annotations

import torch

from .base import Strategy


class L2SP(Strategy):
    name = "l2sp"

    def setup(self, model) -> None:
        head = model.head_parameter_names()
        self.w0 = {n: p.detach().clone() for n, p in model.named_parameters() if n not in head}
        self.head = head

    def penalty(self, model) -> torch.Tensor:
        c = self.cfg.l2sp
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

    def loss(self, loss, model, batch, logits, features):
        return loss + self.penalty(model)
