"""DAN-style multi-kernel MMD (Long et al., ICML 2015, https://arxiv.org/abs/1502.02791).

A discrepancy method: no discriminator, the backbone is pulled to make the source and target
feature distributions close in a reproducing kernel Hilbert space. With a sum of Gaussian kernels
k(x, y) = sum_s exp(-||x - y||^2 / (s * b)), b the batch's mean pairwise squared distance:

    MMD^2 = mean k(f_s, f_s') + mean k(f_t, f_t') - 2 mean k(f_s, f_t)      (biased estimate)
    L = CE(C(f_s), y_s) + trade_off * MMD^2
"""

from __future__ import annotations

import torch

from .adapt import AdaptStrategy


def mk_mmd(source: torch.Tensor, target: torch.Tensor, scales: list[float]) -> torch.Tensor:
    x = torch.cat([source, target]).float()
    d2 = torch.cdist(x, x).pow(2)
    bandwidth = d2.detach().sum() / max(len(x) * (len(x) - 1), 1)
    k = sum(torch.exp(-d2 / (s * bandwidth + 1e-12)) for s in scales)
    n = len(source)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


class Mmd(AdaptStrategy):
    name = "mmd"

    def adapt(self, loss, model, source, target, progress):
        c = self.cfg.mmd
        mmd = mk_mmd(source.features, target.features, c.kernel_scales)
        self.log(mmd=mmd)
        return loss + c.trade_off * mmd
