"""DAN-style multi-kernel MMD (Long et al., ICML 2015, https://arxiv.org/abs/1502.02791).

A discrepancy method: no discriminator, the backbone is pulled to make the source and target
feature distributions close in a reproducing kernel Hilbert space. With a sum of Gaussian kernels
k(x, y) = sum_s exp(-||x - y||^2 / (s * b)), b the batch's mean pairwise squared distance:

    MMD^2 = mean k(f_s, f_s') + mean k(f_t, f_t') - 2 mean k(f_s, f_t)      (biased estimate)
    L = CE(C(f_s), y_s) + trade_off * MMD^2
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..fields import option
from .adapt import TEXT_ALIGNMENT_WARNING, AdaptStrategy
from .registry import register


def mk_mmd(source: torch.Tensor, target: torch.Tensor, scales: list[float]) -> torch.Tensor:
    x = torch.cat([source, target]).float()
    d2 = torch.cdist(x, x).pow(2)
    bandwidth = d2.detach().sum() / max(len(x) * (len(x) - 1), 1)
    k = sum(torch.exp(-d2 / (s * bandwidth + 1e-12)) for s in scales)
    n = len(source)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


@dataclass
class MmdConfig:
    trade_off: float = option(1.0, "Weight of the multi-kernel MMD between source and target features.")
    kernel_scales: list = option([0.25, 0.5, 1.0, 2.0, 4.0], "Gaussian kernel bandwidths, as multiples of the mean "
                                                          "pairwise squared distance in the batch.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("trade_off", self.trade_off >= 0, "must be 0 or more"),
            ("kernel_scales", bool(self.kernel_scales) and all(
            isinstance(k, (int, float)) and k > 0 for k in self.kernel_scales), "must be a list of positive numbers"),
        ]


@register("mmd", config=MmdConfig)
class Mmd(AdaptStrategy):
    text_warning = TEXT_ALIGNMENT_WARNING

    def loss(self, step):
        loss, source, target = step.loss, step.source, step.target
        c = self.cfg
        mmd = mk_mmd(source.features, target.features, c.kernel_scales)
        step.log(mmd=mmd)
        return loss + c.trade_off * mmd
