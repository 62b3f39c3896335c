"""What a method is (`Method`), the training loop's strategy interface with `full` fine-tuning (the default),
and stacking several strategies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from ..errors import UserError
from ..models.param_groups import default_param_groups  # noqa: F401 (strategies build on it)
from .registry import register

TASK_NEEDS = {"single_class": "reads one class per row (it is written for single-label classification)",
              "soft_targets": "trains on soft targets (class probabilities)"}


class Outputs(NamedTuple):
    logits: torch.Tensor
    features: torch.Tensor  # pooled features: the head's input
    inputs: dict | None = None  # the batch itself (the target's, for a teacher to label)


@dataclass
class Step:
    """One training step, as the strategies' step hooks see it: `mix(step)` before the forward pass, then
    `loss(step)`. The loop fills in the rest between the two."""

    batch: dict  # the labelled batch, on the device (mix may replace it)
    soft_targets: torch.Tensor | None = None  # set by mix (mixup, CutMix, smoothing); None: the hard labels
    loss: torch.Tensor | None = None  # the task loss so far, then each strategy's terms added in stack order
    model: nn.Module | None = None  # the model being trained (unwrapped)
    source: Outputs | None = None  # the labelled batch's logits, features and inputs
    target: Outputs | None = None  # `uses_target`: the unlabelled target batch of the same forward pass
    progress: float = 0.0  # share of training done, in [0, 1] (schedules such as DANN's reversal coefficient)
    task: object = None  # what the model predicts (tasks/): its losses (a teacher's term: task.distill_loss)
    logs: dict = field(default_factory=dict)  # terms to report, by step.log(); averaged per epoch by the loop

    def log(self, **terms: torch.Tensor) -> None:
        """Report training terms (kept on the device: no host sync per step); metrics.json's `train_terms`."""
        self.logs.update({k: v.detach().float() for k, v in terms.items()})


class Method:
    """What every method is, whatever produces its model: its name and options, the data it trains on, how its run
    produces the model (`run_kind`), the rules between methods, and what it says of itself. The training loop's
    methods are `Strategy`s (below); a fitted baseline is classic.Fitted, a post-hoc adjustment posthoc.PostHoc."""

    name: str  # and `config` (its options dataclass, or None): set by @register(name, config=...)
    train_on = "source"  # or, with data.target: "target_labelled" (a few), "target" (all labelled target)
    uses_target = False  # True: every step also sees an unlabelled target batch (domain adaptation)
    run_kind = "loop"  # how a run produces the model (runs/pipeline.py KINDS): "loop" trains it; "fitted" fits a
    #                    baseline in closed form (runs/fitted_run.py); "posthoc" adjusts a trained model (posthoc_run.py)
    # the rules between strategies, checked by the config and the loop without naming any strategy:
    not_with: tuple[str, ...] = ()  # strategies this one does not stack with, and why (`not_with_why`)
    not_with_why = ""
    single_process = ""  # why it needs one process (a reason refuses `accelerate launch` with several)
    builds_head = False  # True: it makes its own head (no model.bottleneck, no model.new_head_init: logreg)
    # how it reads target-domain labels by design ("" for never): the adaptation report flags such runs, and the
    # test that scrambles the target labels (same weights, same epoch) holds for every method that leaves it ""
    reads_target_labels = ""
    baseline = False  # True: a baseline every run is measured against (registry.baselines())
    # what it needs of the task (tasks/base.py's flags): "single_class" (one class per row: pseudo-labels, domain
    # alignment conditioned on classes, class priors), "soft_targets" (it trains on soft targets); () runs on every task
    task_needs: tuple[str, ...] = ()

    def __init__(self, cfg=None):
        self.cfg = cfg  # its own section of the config (strategy.<name>), or None without options

    def check_task(self, task) -> None:
        """Refuse, in one line naming the task, a task this method cannot train or adjust."""
        missing = next((need for need in self.task_needs if not getattr(task, need)), None)
        if missing:
            raise UserError(f"strategy.name: {self.name} {TASK_NEEDS[missing]}; task {task.name} has none")

    def inputs(self) -> list[tuple[str, str]]:
        """(field, path) of what the strategy reads from disk besides the backbone and the data (a teacher): the
        run's output folder may not be or hold them."""
        return []

    @classmethod
    def card_summary(cls, metrics: dict, model: str, data: str) -> str | None:
        """The model card's first sentence for a model this strategy made, or None for the usual one."""
        return None


@register("full")
class Strategy(Method):
    """Full fine-tuning: every weight trains. The base class of the training loop's methods, whose no-op hooks
    others override."""

    def data_augment(self) -> dict:
        """Extra keyword arguments for timm's create_transform (train-time augmentation)."""
        return {}

    def setup(self, model) -> None:
        """Once, before the optimizer is built: freeze, replace the head, add adapters..."""

    def param_groups(self, model, train_cfg) -> list[dict] | None:
        """The optimizer's parameter groups; None leaves them to the default (decay / no decay)."""
        return None

    def on_epoch_start(self, epoch: int, model) -> None:
        """At the start of every epoch, resumed ones included."""

    def mix(self, step: Step) -> None:
        """Before the forward pass: replace `step.batch` and/or set `step.soft_targets` (mixup, CutMix...)."""

    def view_target(self, inputs: dict) -> dict:
        """The unlabelled target batch as the model sees it in the forward pass (`uses_target`); `step.target.inputs`
        keeps the batch as loaded. Default: unchanged (self_training's strong augmentation replaces it)."""
        return inputs

    def loss(self, step: Step) -> torch.Tensor:
        """The loss to minimise at this step: `step.loss` plus the strategy's own terms (a penalty, a teacher's
        soft targets, a transfer loss from `step.source` and `step.target`)."""
        return step.loss

    def save(self, model, directory, image_size) -> bool:
        """Save the trained model in a strategy-specific way; False: the default save_pretrained."""
        return False

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Stack(Strategy):
    """Several strategies applied in the order named (e.g. gradual_unfreeze+discriminative_lr+l2sp)."""

    def __init__(self, strategies: list[Strategy]):
        super().__init__(None)
        self.strategies = strategies
        self.name = "+".join(s.name for s in strategies)
        self.train_on = next((s.train_on for s in strategies if s.train_on != "source"), "source")
        self.uses_target = any(s.uses_target for s in strategies)
        self.reads_target_labels = "; ".join(s.reads_target_labels for s in strategies if s.reads_target_labels)

    def inputs(self) -> list[tuple[str, str]]:
        return [i for s in self.strategies for i in s.inputs()]

    def check_task(self, task) -> None:
        for s in self.strategies:
            s.check_task(task)

    def data_augment(self) -> dict:
        return {k: v for s in self.strategies for k, v in s.data_augment().items()}

    def setup(self, model) -> None:
        for s in self.strategies:
            s.setup(model)

    def param_groups(self, model, train_cfg):
        chosen = None
        for s in self.strategies:
            chosen = s.param_groups(model, train_cfg) or chosen
        return chosen

    def on_epoch_start(self, epoch, model) -> None:
        for s in self.strategies:
            s.on_epoch_start(epoch, model)

    def mix(self, step: Step) -> None:
        for s in self.strategies:
            s.mix(step)

    def view_target(self, inputs: dict) -> dict:
        for s in self.strategies:
            inputs = s.view_target(inputs)
        return inputs

    def loss(self, step: Step) -> torch.Tensor:
        for s in self.strategies:
            step.loss = s.loss(step)
        return step.loss

    def save(self, model, directory, image_size) -> bool:
        return any(s.save(model, directory, image_size) for s in self.strategies)

    def state_dict(self) -> dict:
        return {s.name: s.state_dict() for s in self.strategies}

    def load_state_dict(self, state: dict) -> None:
        for s in self.strategies:
            s.load_state_dict(state.get(s.name, {}))
