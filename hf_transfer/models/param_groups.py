"""Which parameters form which optimizer group: the model's knowledge (its parameter shapes here; its layers in
the adapters' `layer_groups`), read by the optimizer (runs/optim.py) and by strategies that set their own groups."""

from __future__ import annotations

from torch import nn


def default_param_groups(model: nn.Module, lr: float, weight_decay: float, names: list[str] | None = None,
                         prefix: str = "") -> list[dict]:
    """Parameters in two groups, with weight decay and without (biases, norm weights).

    Frozen parameters are included: an optimizer skips parameters without gradients, and a strategy
    that unfreezes them later (gradual unfreezing) finds them already in place.
    """
    params = dict(model.named_parameters())
    groups = {"decay": ([], []), "no_decay": ([], [])}
    for name in names if names is not None else params:
        key = "no_decay" if params[name].ndim <= 1 else "decay"
        groups[key][0].append(name)
        groups[key][1].append(params[name])
    return [{"name": prefix + key, "params": ps, "param_names": ns, "lr": lr,
             "weight_decay": weight_decay if key == "decay" else 0.0}
            for key, (ns, ps) in groups.items() if ps]
