"""Transfer strategies: small objects with hooks into the one training loop.

A strategy changes *what* trains and *how much*, never the loop itself. The loop calls, in order:

    data_augment()                    extra timm transform options (RandAugment, random erasing)
    setup(model)                      once, before the optimizer: freeze, replace the head, add adapters
    param_groups(model, train_cfg)    the optimizer's parameter groups (None: decay / no-decay)
    on_epoch_start(epoch, model)      every epoch, resumed ones included (gradual unfreezing)
    every training step, one `Step` (base.py) through two hooks:
      mix(step)                       before the forward pass: replace step.batch, set step.soft_targets
                                      (mixup, CutMix, label smoothing)
      loss(step) -> loss              after it: the task loss plus the strategy's terms, from step.loss,
                                      .model, .source (logits, features, inputs), .target (the
                                      unlabelled target's, with a target domain) and .progress; one
                                      hook for L2-SP, distillation, DANN, CDAN, MMD, MCC, self-training.
                                      step.log(name=value) reports a term (metrics.json train_terms)
    save(model, dir, image_size)      a special save (LoRA merged or adapter)
    state_dict() / load_state_dict()  strategy state, saved in every checkpoint

Class attributes say what data a strategy trains on: `train_on` ("source", or with `data.target`
"target_labelled" / "target" for the target_finetune / oracle baselines) and `uses_target` (an
unlabelled target batch joins every step).

Strategies stack: `strategy.name: gradual_unfreeze+discriminative_lr+l2sp` applies them in order.

A strategy is one file: its options dataclass (the `strategy.<name>` config section, with `rules()`),
its class with the hooks, and `@register("name", config=Options)` (registry.py). Rules between
strategies are class attributes (`not_with`, `single_process`, `builds_head`), read by the config
checks and the loop.

Methods of another run kind run no loop and do not stack (they are `Method`s, not `Strategy`s): `run_kind =
"fitted"` (classic.Fitted), the baselines users try first (`tfidf_logreg`, `frozen_logreg`, `baseline = True`)
and few-shot `setfit` (its body tuned contrastively first, few_shot.py), fitted by runs/fitted_run.py, and
`run_kind = "posthoc"` (posthoc.PostHoc), the post-hoc adaptations (`adabn`, `bbse`, `mlls`, `wise_ft`), which
runs/posthoc_run.py applies to a trained source model with unlabelled target data.

What differs between methods is said by the method, never by a list elsewhere: `baseline`, `inputs()` (what it
reads from disk), `card_summary()` (its model card's first sentence), and `@report_section` functions (its own
lines in the domain-adaptation report). A new method is one file here, imported below.
"""

from __future__ import annotations

# ruff: noqa: I001, F401  (every strategy file registers itself with @register; this order is the order of
# the strategies in --help-config, in the errors and in a config's sections)
from .base import Method, Stack, Strategy, default_param_groups
from .registry import REGISTRY, register
from . import freeze, lr, l2sp, lora, distill, augment, head
from . import baselines, dann, cdan, mmd, mcc, self_training, posthoc, wise_ft, classic, few_shot


def get_strategy(cfg) -> Strategy:
    """The strategy (or stack) named by `cfg.name` (a StrategyConfig), e.g. 'linear_probe' or 'partial+l2sp';
    each part gets its own section of `cfg` (None for a strategy without options)."""
    parts = [REGISTRY[name](getattr(cfg, name, None)) for name in cfg.name.split("+")]
    return parts[0] if len(parts) == 1 else Stack(parts)


__all__ = ["REGISTRY", "Method", "Stack", "Strategy", "default_param_groups", "get_strategy", "register"]
