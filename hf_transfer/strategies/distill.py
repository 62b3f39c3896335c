"""Knowledge distillation from a teacher (Hinton, Vinyals & Dean 2015).

    loss = (1 - a) * CE(student, labels) + a * T^2 * KL(softmax(teacher / T) || softmax(student / T))

The teacher (`strategy.distill.teacher`: a model folder, e.g. another run's `model/`, or a Hub id)
must predict the same labels; it sees the student's batches, runs without gradients, and is not
saved. Paper: https://arxiv.org/abs/1503.02531
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ..errors import UserError
from ..fields import option
from ..models import load_like
from .base import Strategy
from .registry import register


def distillation_loss(student_logits, teacher_logits, task_loss, temperature: float, alpha: float,
                      task=None) -> torch.Tensor:
    """(1 - a) * the task loss + a * the task's teacher term (single_label: T^2 KL of the softened distributions)."""
    from ..tasks import DEFAULT, get_task

    term = (task or get_task(DEFAULT)).distill_loss(student_logits, teacher_logits, temperature)
    return (1 - alpha) * task_loss + alpha * term


def _saved_labels(folder: Path) -> list[str] | None:
    config = folder / "config.json"
    if not config.is_file():
        return None
    c = json.loads(config.read_text())
    if "label_names" in c:
        return list(c["label_names"])
    if "id2label" in c:
        return [c["id2label"][k] for k in sorted(c["id2label"], key=int)]
    return None


@dataclass
class DistillConfig:
    teacher: Optional[str] = option(None, "The teacher: a model folder (e.g. another run's model/) or Hub id with the same labels.")
    temperature: float = option(2.0, "Softmax temperature T of the soft targets.")
    alpha: float = option(0.5, "Weight a of the distillation term: loss = (1-a)*CE + a*T^2*KL(teacher || student).")

    def rules_in_use(self) -> list[tuple[str, bool, str]]:
        return [("teacher", bool(self.teacher), "required when strategy.name includes distill")]

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("temperature", self.temperature > 0, "must be positive"),
            ("alpha", 0 <= self.alpha <= 1, "must be in [0, 1]"),
        ]


@register("distill", config=DistillConfig)
class Distill(Strategy):
    def inputs(self) -> list[tuple[str, str]]:
        return [("strategy.distill.teacher", self.cfg.teacher)]

    def setup(self, model) -> None:
        c = self.cfg
        labels = _saved_labels(Path(c.teacher).expanduser())
        if labels is not None and labels != model.label_names:
            raise UserError(f"strategy.distill.teacher: its labels ({', '.join(labels)}) are not the data's "
                            f"({', '.join(model.label_names)})")
        self.teacher = load_like(model, c.teacher, field="strategy.distill.teacher").eval()
        self.teacher.requires_grad_(False)

    def loss(self, step):
        loss, logits, batch = step.loss, step.source.logits, step.source.inputs
        device = logits.device
        if next(self.teacher.parameters()).device != device:
            self.teacher.to(device)
        with torch.no_grad():
            teacher_logits = self.teacher(batch)
        c = self.cfg
        return distillation_loss(logits, teacher_logits, loss, c.temperature, c.alpha, step.task)
