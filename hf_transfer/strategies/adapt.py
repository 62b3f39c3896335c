"""What the domain-adaptation strategies share: the interface, gradient reversal, the discriminator.

An adaptation strategy (`uses_target = True`) sees, every step, the model's outputs on a source
batch (labelled) and on an unlabelled target batch from `data.target`, both from one forward pass
over the joined batch, and adds its transfer loss to the source cross-entropy:

    loss = CE(source logits, source labels) + trade_off * transfer_loss(source, target, progress)

`progress` is the share of training done, in [0, 1] (for Ganin's schedule).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Strategy


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff: float):
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coeff * grad, None


def reverse_gradient(x: torch.Tensor, coeff: float) -> torch.Tensor:
    """Identity forward; the backward pass multiplies the gradient by -coeff (Ganin & Lempitsky 2015)."""
    return _ReverseGradient.apply(x, coeff)


def ganin_coefficient(progress: float, gamma: float = 10.0) -> float:
    """lambda_p = 2 / (1 + exp(-gamma * p)) - 1: 0 at the start, rising to ~1, so the early, noisy
    discriminator does not disturb the features."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class DomainDiscriminator(nn.Sequential):
    """features -> 1 logit (source = 1, target = 0): two hidden layers with BatchNorm and ReLU."""

    def __init__(self, in_features: int, hidden: int):
        super().__init__(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, 1))


def domain_labels(n_source: int, n_target: int, device) -> torch.Tensor:
    return torch.cat([torch.ones(n_source, device=device), torch.zeros(n_target, device=device)])


def adversarial_loss(discriminator: nn.Module, x: torch.Tensor, n_source: int, progress: float, gamma: float,
                     weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The domain-adversarial loss dann and cdan share: the discriminator's BCE on GRL(x) (the first
    `n_source` rows source = 1, the rest target = 0), with Ganin's coefficient at `progress`.
    Returns (loss, the discriminator's accuracy)."""
    d = discriminator(reverse_gradient(x, ganin_coefficient(progress, gamma))).squeeze(-1)
    y = domain_labels(n_source, len(x) - n_source, d.device)
    return F.binary_cross_entropy_with_logits(d, y, weight=weight), ((d > 0).float() == y).float().mean()


def entropy(probs: torch.Tensor) -> torch.Tensor:
    return -(probs * torch.log(probs + 1e-5)).sum(-1)


# said up front by the alignment methods (dann, cdan, mmd, mcc) on a text backbone (benchmarks/RESULTS.md 6k has
# the runs: on tweets of two topics dann and cdan predicted one class, mmd and mcc lost target accuracy)
TEXT_ALIGNMENT_WARNING = (
    "strategy.name: {name} did not work on text where it was tried (README, Domain adaptation): aligning the domains' "
    "features assumes both have the same class priors, and where those move it lost to source_only; run source_only "
    "beside it")


class AdaptStrategy(Strategy):
    """Base of the unsupervised adaptation methods: trains on source labels + unlabelled target."""

    uses_target = True
    task_needs = ("single_class",)
    text_warning = ""  # a warning a run on a text backbone gives up front (TEXT_ALIGNMENT_WARNING)
