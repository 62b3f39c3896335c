"""Transfer strategies: small objects with hooks into the one training loop.

A strategy changes *what* trains and *how much*, never the loop itself. The loop calls, in order:

    data_augment()                    extra timm transform options (RandAugment, random erasing)
    setup(model)                      once, before the optimizer: freeze, replace the head, add adapters
    param_groups(model, train_cfg)    the optimizer's parameter groups (None: decay / no-decay)
    on_epoch_start(epoch, model)      every epoch, resumed ones included (gradual unfreezing)
    mix(batch)                        a training batch and soft targets (mixup, CutMix, smoothing)
    loss(task_loss, model, batch, logits, features)   the loss to minimise (L2-SP, distillation)
    adapt(loss, model, source, target, progress)  domain adaptation: a transfer loss from source and
                                      unlabelled target outputs (DANN, CDAN, MMD, MCC, self-training)
    save(model, dir, image_size)      a special save (LoRA merged or adapter)
    state_dict() / load_state_dict()  strategy state, saved in every checkpoint

Class attributes say what data a strategy trains on: `train_on` ("source", or with `data.target`
"target_labelled" / "target" for the target_finetune / oracle baselines) and `uses_target` (an
unlabelled target batch joins every step).

Strategies stack: `strategy.name: gradual_unfreeze+discriminative_lr+l2sp` applies them in order.

`fitted` strategies run no loop; their `fit` makes the run, and they do not stack: `tfidf_logreg`
and `frozen_logreg` (classic.py), the baselines users try first, and the post-hoc adaptations
`adabn`, `bbse` and `mlls` (posthoc.py), which adjust a trained source model with unlabelled target data.
"""

from __future__ import annotations

from .augment import Augment
from .base import Stack, Strategy, default_param_groups
from .baselines import Oracle, SourceOnly, SourceOnlyJoint, TargetFinetune
from .cdan import Cdan
from .classic import FrozenLogreg, TfidfLogreg
from .dann import Dann
from .distill import Distill
from .freeze import GradualUnfreeze, LinearProbe, Partial
from .head import Head
from .l2sp import L2SP
from .lora import Lora
from .lr import DiscriminativeLR
from .mcc import Mcc
from .mmd import Mmd
from .posthoc import BBSE, MLLS, AdaBN
from .self_training import SelfTraining

REGISTRY: dict[str, type[Strategy]] = {s.name: s for s in (
    Strategy, LinearProbe, Partial, GradualUnfreeze, DiscriminativeLR, L2SP, Lora, Distill, Augment, Head,
    SourceOnly, SourceOnlyJoint, TargetFinetune, Oracle, Dann, Cdan, Mmd, Mcc, SelfTraining, AdaBN, BBSE, MLLS,
    TfidfLogreg, FrozenLogreg)}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy known by its `name` (to the config checks, the loop and the recipes)."""
    REGISTRY[cls.name] = cls
    return cls


def get_strategy(cfg) -> Strategy:
    """The strategy (or stack of strategies) named by `cfg.name`, e.g. 'linear_probe' or 'partial+l2sp'."""
    parts = [REGISTRY[name](cfg) for name in cfg.name.split("+")]
    return parts[0] if len(parts) == 1 else Stack(parts)


__all__ = ["REGISTRY", "Stack", "Strategy", "default_param_groups", "get_strategy", "register"]
