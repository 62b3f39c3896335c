"""The strategy interface, and `full` fine-tuning: every weight trains (the default)."""

from __future__ import annotations

import torch
from torch import nn


def default_param_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """Trainable parameters in two groups: with weight decay, and without (biases, norm weights)."""
    groups = {"decay": ([], []), "no_decay": ([], [])}
    for name, p in model.named_parameters():
        if p.requires_grad:
            names, params = groups["no_decay" if p.ndim <= 1 else "decay"]
            names.append(name)
            params.append(p)
    return [{"name": key, "params": params, "param_names": names, "lr": lr,
             "weight_decay": weight_decay if key == "decay" else 0.0}
            for key, (names, params) in groups.items() if params]


class Strategy:
    """Full fine-tuning; the base class whose no-op hooks other strategies override."""

    name = "full"

    def __init__(self, cfg=None):
        self.cfg = cfg

    def setup(self, model: nn.Module) -> None:
        pass

    def param_groups(self, model: nn.Module, train_cfg) -> list[dict]:
        return default_param_groups(model, train_cfg.lr, train_cfg.weight_decay)

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        pass

    def extra_loss(self, model, batch, logits, features) -> torch.Tensor | None:
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
