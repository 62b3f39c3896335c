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

With `strong_augment` (images), the student sees a strongly augmented view of the target batch
(a random affine map per image, then a cut-out square) while the teacher labels the batch as
loaded: the student must give the teacher's class to a harder view of the image (FixMatch's
weak/strong consistency, Sohn et al. 2020, https://arxiv.org/abs/2001.07685, with a fixed teacher).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..fields import option
from .adapt import AdaptStrategy
from .registry import register


@dataclass
class SelfTrainingConfig:
    trade_off: float = option(1.0, "Weight of the cross-entropy on the teacher's pseudo-labels of the target.")
    threshold: float = option(0.9, "A target sample joins the loss when the teacher's top probability is at least this.")
    strong_augment: bool = option(False, "Images: the student sees a strongly augmented view of the target batch "
                                         "(random rotation, shear, scale, translation, and a cut-out square) while "
                                         "the teacher labels the batch as loaded (FixMatch's weak/strong consistency).")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("trade_off", self.trade_off >= 0, "must be 0 or more"),
            ("threshold", 0 <= self.threshold < 1, "must be in [0, 1)"),
        ]


def strong_view(pixels: torch.Tensor, degrees: float = 15.0, shear: float = 10.0, scale: tuple = (0.85, 1.15),
                translate: float = 0.1, cutout: float = 0.25) -> torch.Tensor:
    """A strongly augmented view of a batch of (normalised) images, N x C x H x W: per image a random
    rotation (+-`degrees`), shear (+-`shear` degrees), scale and translation (a share of the size) in
    one `grid_sample` (borders repeated), then a square of side `cutout` x the size set to 0 (the
    normalised mean). Draws from the global torch generator (saved with the checkpoints)."""
    n, device = pixels.shape[0], pixels.device

    def uniform(low, high):
        return torch.empty(n, device=device).uniform_(low, high)

    angle, slant = uniform(-degrees, degrees) * math.pi / 180, uniform(-shear, shear) * math.pi / 180
    size = uniform(*scale)
    cos, sin, tan = torch.cos(angle) / size, torch.sin(angle) / size, torch.tan(slant)
    theta = torch.stack([torch.stack([cos, -sin + tan * cos, uniform(-2 * translate, 2 * translate)], -1),
                         torch.stack([sin, cos + tan * sin, uniform(-2 * translate, 2 * translate)], -1)], 1)
    grid = F.affine_grid(theta.to(pixels.dtype), list(pixels.shape), align_corners=False)
    out = F.grid_sample(pixels, grid, padding_mode="border", align_corners=False)
    h, w = out.shape[-2:]
    side_h, side_w = max(1, round(cutout * h)), max(1, round(cutout * w))
    top = (uniform(0, 1) * (h - side_h + 1)).long().clamp(max=h - side_h)
    left = (uniform(0, 1) * (w - side_w + 1)).long().clamp(max=w - side_w)
    rows = torch.arange(h, device=device)[None, :, None]
    cols = torch.arange(w, device=device)[None, None, :]
    hole = ((rows >= top[:, None, None]) & (rows < (top + side_h)[:, None, None])
            & (cols >= left[:, None, None]) & (cols < (left + side_w)[:, None, None]))
    return out.masked_fill(hole[:, None], 0.0)


@register("self_training", config=SelfTrainingConfig)
class SelfTraining(AdaptStrategy):

    def setup(self, model) -> None:
        if self.cfg.strong_augment and getattr(model, "modality", "image") != "image":
            raise UserError("strategy.self_training.strong_augment: augments images, and this is a "
                            f"{model.modality} model (turn it off)")
        self.teacher = copy.deepcopy(model).eval().requires_grad_(False)

    def view_target(self, inputs: dict) -> dict:
        if not self.cfg.strong_augment:
            return inputs
        return {**inputs, "pixel_values": strong_view(inputs["pixel_values"])}

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
