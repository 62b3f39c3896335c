"""Transfer strategies: small objects with hooks into the one training loop.

A strategy changes *what* trains and *how much*, never the loop itself. The loop calls, in order:

    setup(model)                      once, before the optimizer is built (freeze, add adapters...)
    param_groups(model, train_cfg)    the optimizer's parameter groups (names kept for resume)
    on_epoch_start(epoch, model)      at the start of every epoch (gradual unfreezing...)
    extra_loss(model, batch, logits, features)   a term added to the task loss (L2-SP, distillation...)
    state_dict() / load_state_dict()  strategy state, saved in every checkpoint

`get_strategy(cfg)` builds the one named in the config.
"""

from __future__ import annotations

from .base import Strategy, default_param_groups

REGISTRY: dict[str, type[Strategy]] = {"full": Strategy}


def get_strategy(cfg) -> Strategy:
    return REGISTRY[cfg.name](cfg)


__all__ = ["Strategy", "default_param_groups", "get_strategy", "REGISTRY"]
