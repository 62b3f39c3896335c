"""The optimizer and its schedule, beside the loop: parameter groups (weight decay or not; a strategy may give
its own, e.g. discriminative LR), LR multipliers per model part (train.lr_multipliers), AdamW or SGD, and the
LR schedule over the step budget."""

from __future__ import annotations

import math

import torch

from ..models.param_groups import default_param_groups

LR_PARTS = ("backbone", "bottleneck", "head", "discriminator")


def step_budget(cfg, steps_per_epoch: int) -> tuple[int, int]:
    """(optimizer steps, epochs) of a run: train.max_steps or train.epochs, raised to train.min_steps."""
    total = cfg.max_steps or steps_per_epoch * cfg.epochs
    total = max(total, cfg.min_steps or 0)
    return total, math.ceil(total / steps_per_epoch)


def make_scheduler(optimizer, cfg, steps_per_epoch: int):
    """Linear warmup, then cosine / linear decay to 0 over the step budget, step decay at epochs, constant, or
    annealing (1 + 10 p)^-0.75."""
    total, _ = step_budget(cfg, steps_per_epoch)
    warmup = int(cfg.warmup_ratio * total)
    milestones = [e * steps_per_epoch for e in cfg.step_epochs]

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        if cfg.scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        if cfg.scheduler == "linear":
            return max(0.0, 1.0 - progress)
        if cfg.scheduler == "step":
            return cfg.step_gamma ** sum(step >= m for m in milestones)
        if cfg.scheduler == "annealing":
            return (1.0 + 10.0 * min(progress, 1.0)) ** -0.75
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def model_parts(model) -> dict[str, str]:
    """{parameter name: part}: the pretrained backbone, the bottleneck, the classifier head, or a module a
    strategy added beside the network (the domain discriminator)."""
    head = model.head_parameter_names()
    classifier = {id(p) for p in model.features_module.parameters()}  # the whole head, without a bottleneck
    net = {id(p) for p in model.net.parameters()}
    parts = {}
    for n, p in model.named_parameters():
        if n in head:
            parts[n] = "head" if id(p) in classifier else "bottleneck"
        else:
            parts[n] = "backbone" if id(p) in net else "discriminator"
    return parts


def apply_lr_multipliers(groups: list[dict], model, multipliers: dict) -> list[dict]:
    """Split each parameter group by model part (`model_parts`), each at the group's lr times the part's
    multiplier (train.lr_multipliers, e.g. {backbone: 0.1}; a part not named keeps 1); groups stay as they
    are without multipliers."""
    if not multipliers:
        return groups
    parts = model_parts(model)
    params = dict(model.named_parameters())
    split = []
    for g in groups:
        for part in LR_PARTS:  # every group names its parameters (default_param_groups)
            mine = [n for n in g["param_names"] if parts[n] == part]
            if mine:
                split.append({**g, "name": f"{g.get('name', 'group')}/{part}", "param_names": mine,
                              "params": [params[n] for n in mine], "lr": g["lr"] * multipliers.get(part, 1.0)})
    return split


def make_optimizer(groups: list[dict], cfg, device: torch.device | None = None):
    """AdamW or SGD; fused kernels (one launch for all parameters) on a GPU unless train.fused_optimizer is false."""
    fused = cfg.fused_optimizer if cfg.fused_optimizer is not None else (device is not None and device.type == "cuda")
    extra = {"fused": True} if fused else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0, **extra)
    return torch.optim.AdamW(groups, lr=cfg.lr, **extra)


def build_optimizer(model, strategy, cfg, device: torch.device | None = None):
    """The optimizer of a run: the strategy's parameter groups (or the default two), split by
    train.lr_multipliers, in AdamW or SGD."""
    groups = strategy.param_groups(model, cfg) or default_param_groups(model, cfg.lr, cfg.weight_decay)
    return make_optimizer(apply_lr_multipliers(groups, model, cfg.lr_multipliers), cfg, device)
