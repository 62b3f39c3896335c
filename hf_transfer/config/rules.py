"""The checks a field's type cannot express: ranges (train.lr positive and finite...), the rules between fields
(a bottleneck with a head-building strategy...), the strategies' own `rules()`, and which strategies stack.
`check(cfg)` raises a `ConfigError` naming the field."""

from __future__ import annotations

import dataclasses
import math

from ..errors import ConfigError
from .schema import Config


def check(cfg: Config) -> Config:
    """Range checks the types cannot express, then the rules between fields."""
    for key, ok, why in (*_train_rules(cfg.train), *_data_rules(cfg), *_strategy_rules(cfg.strategy)):
        if not ok:
            raise ConfigError(f"{key}: {why}")
    _check_strategy_names(cfg)
    _check_data(cfg.data)
    _check_task(cfg)
    return cfg


def _check_task(cfg: Config) -> None:
    """task: auto or a registered task; train.metric_for_best one that task scores."""
    from ..tasks import TASKS, get_task

    if cfg.task != "auto":
        task = get_task(cfg.task)
        metric = cfg.train.metric_for_best
        if metric is not None and metric not in task.best_metrics:
            raise ConfigError(f"train.metric_for_best: {metric!r} is not one of: {', '.join(task.best_metrics)} "
                              f"(task {cfg.task})")
    elif cfg.train.metric_for_best is not None and not any(cfg.train.metric_for_best in t.best_metrics
                                                           for t in TASKS.values()):
        known = dict.fromkeys(m for t in TASKS.values() for m in t.best_metrics)
        raise ConfigError(f"train.metric_for_best: {cfg.train.metric_for_best!r} is not one of: {', '.join(known)}")


def _train_rules(t) -> list[tuple[str, bool, str]]:
    """(field, holds, why) for train.*."""
    return [
        ("train.epochs", t.epochs >= 1, "must be at least 1"),
        ("train.batch_size", t.batch_size >= 1, "must be at least 1"),
        ("train.eval_batch_size", t.eval_batch_size is None or t.eval_batch_size >= 1, "must be at least 1"),
        ("train.lr", t.lr > 0 and math.isfinite(t.lr), "must be positive and finite"),
        ("train.max_loss", t.max_loss is None or t.max_loss > 0, "must be positive (or null)"),
        ("train.max_steps", t.max_steps is None or t.max_steps >= 1, "must be at least 1"),
        ("train.min_steps", t.min_steps is None or t.min_steps >= 1, "must be at least 1"),
        ("train.min_steps", t.min_steps is None or t.max_steps is None or t.min_steps <= t.max_steps,
         "must not exceed train.max_steps"),
        ("train.early_stopping_patience", t.early_stopping_patience is None or t.early_stopping_patience >= 1,
         "must be at least 1"),
        ("train.min_validation_rows", t.min_validation_rows >= 0, "must be 0 or more"),
        ("train.class_weights", t.class_weights in (None, "auto", "balanced") or (
            isinstance(t.class_weights, list) and bool(t.class_weights) and all(
                isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in t.class_weights)),
         "must be auto, null, 'balanced' or a list of weights >= 0, one per class"),
        ("train.lr_multipliers", set(t.lr_multipliers) <= {"backbone", "bottleneck", "head", "discriminator"} and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in t.lr_multipliers.values()),
         "must map backbone, bottleneck, head and/or discriminator to multipliers >= 0, e.g. {backbone: 0.1}"),
        ("train.weight_decay", t.weight_decay >= 0, "must be 0 or more"),
        ("train.warmup_ratio", 0 <= t.warmup_ratio < 1, "must be in [0, 1)"),
        ("train.grad_accum_steps", t.grad_accum_steps >= 1, "must be at least 1"),
        ("train.max_grad_norm", t.max_grad_norm is None or t.max_grad_norm > 0, "must be positive or null"),
        ("train.label_smoothing", 0 <= t.label_smoothing < 1, "must be in [0, 1)"),
        ("train.eval_every_epochs", t.eval_every_epochs >= 1, "must be at least 1"),
        ("train.checkpoint_every_steps", t.checkpoint_every_steps is None or t.checkpoint_every_steps >= 1, "must be at least 1"),
        ("train.keep_checkpoints", t.keep_checkpoints >= 1, "must be at least 1"),
        ("train.stop_after_steps", t.stop_after_steps is None or t.stop_after_steps >= 1, "must be at least 1"),
        ("train.step_epochs", all(isinstance(e, int) and e >= 1 for e in t.step_epochs), "must be a list of epochs >= 1"),
    ]


def _data_rules(cfg: Config) -> list[tuple[str, bool, str]]:
    """(field, holds, why) for data.*, model.* and hub.*."""
    d = cfg.data
    return [
        ("data.validation_size", 0 < d.validation_size < 1, "must be in (0, 1)"),
        ("data.eval_splits", all(isinstance(s, str) for s in d.eval_splits), "must be a list of split names"),
        ("data.max_train_samples", d.max_train_samples is None or d.max_train_samples >= 1, "must be at least 1"),
        ("data.labelled_per_class", d.labelled_per_class is None or d.labelled_per_class >= 1, "must be at least 1"),
        ("data.labelled_per_class", d.labelled_per_class is None or not d.target.dataset,
         "gives the unlabelled rest of the same domain to the method; leave data.target out"),
        ("data.max_eval_samples", d.max_eval_samples is None or d.max_eval_samples >= 1, "must be at least 1"),
        ("data.image_size", d.image_size is None or d.image_size >= 8, "must be at least 8 pixels"),
        ("data.max_length", d.max_length >= 2, "must be at least 2"),
        ("data.num_workers", d.num_workers is None or d.num_workers >= 0, "must be 0 or more"),
        ("model.bottleneck", cfg.model.bottleneck is None or cfg.model.bottleneck >= 0, "must be 0 or more"),
        ("model.drop_rate", cfg.model.drop_rate is None or 0 <= cfg.model.drop_rate < 1, "must be in [0, 1)"),
        ("model.kwargs", "trust_remote_code" not in cfg.model.kwargs,
         "trust_remote_code is not taken: hf-transfer never runs code shipped with a model (load such a model "
         "with transformers yourself, pinning the revision you read)"),
        ("hub.repo_id", not cfg.hub.push_to_hub or bool(cfg.hub.repo_id), "is required when hub.push_to_hub is true"),
        ("data.target.labelled_samples", d.target.labelled_samples >= 1, "must be at least 1"),
        ("data.target.validation_samples", d.target.validation_samples >= 0, "must be 0 (none) or more"),
        ("data.target.max_train_samples", d.target.max_train_samples is None or d.target.max_train_samples >= 1,
         "must be at least 1"),
    ]


def _strategy_rules(s) -> list[tuple[str, bool, str]]:
    """(field, holds, why) of every strategy's section (its options dataclass's `rules()`), and of the named
    strategies' `rules_in_use()` (e.g. distill's teacher, required only when distill runs)."""
    named = set(s.name.split("+"))
    rows = []
    for f in dataclasses.fields(s):
        section = getattr(s, f.name)
        checks = [*getattr(section, "rules", list)(), *(getattr(section, "rules_in_use", list)() if f.name in named else [])]
        rows += [(f"strategy.{f.name}.{key}", ok, why) for key, ok, why in checks]
    return rows


def _check_strategy_names(cfg: Config) -> None:
    """strategy.name: known strategies that stack, with the data and head they need."""
    from ..strategies import REGISTRY  # noqa: PLC0415

    s, d = cfg.strategy, cfg.data
    parts = s.name.split("+")
    for part in parts:
        if part not in REGISTRY:
            raise ConfigError(f"strategy.name: {part!r} is not one of: {', '.join(REGISTRY)}")
    for part in parts:  # "does not stack with": a class attribute of the strategy
        clash = [p for p in REGISTRY[part].not_with if p in parts]
        if clash:
            raise ConfigError(f"strategy.name: {part} does not stack with {', '.join(sorted(clash))} "
                              f"({REGISTRY[part].not_with_why})")
    needs_target = [p for p in parts if REGISTRY[p].train_on != "source" or REGISTRY[p].uses_target]
    unlabelled_rest = d.labelled_per_class and all(REGISTRY[p].train_on == "source" for p in needs_target)
    if needs_target and not d.target.dataset and not unlabelled_rest:  # the unlabelled rest can stand in for a target
        raise ConfigError(f"data.target.dataset: required by strategy {needs_target[0]} (the target domain, or "
                          "data.labelled_per_class for the unlabelled rest of the same domain)")
    if len({REGISTRY[p].train_on for p in parts}) > 1:
        raise ConfigError(f"strategy.name: {s.name!r} mixes strategies that train on different data")
    if len(parts) > 1 and any(REGISTRY[p].run_kind != "loop" for p in parts):
        raise ConfigError(f"strategy.name: {next(p for p in parts if REGISTRY[p].run_kind != 'loop')} runs without the training "
                          "loop; it does not stack with other strategies")
    if d.target.dataset and any(REGISTRY[p].run_kind != "loop" and not REGISTRY[p].uses_target for p in parts):
        raise ConfigError(f"data.target.dataset: {parts[0]} is not a domain-adaptation method; leave data.target out")
    head = _head_builder(parts)
    if cfg.model.new_head_init == "logreg" and head:
        raise ConfigError(f"model.new_head_init: logreg fits a linear head; strategy {head} replaces it by hidden layers")
    if cfg.model.bottleneck and head:
        raise ConfigError(f"model.bottleneck: strategy {head} builds its own hidden layers; leave model.bottleneck out")
    if cfg.model.bottleneck and cfg.model.new_head_init == "logreg":
        raise ConfigError("model.bottleneck: model.new_head_init: logreg fits a linear head on the backbone's features")
    if len(set(parts)) != len(parts):
        raise ConfigError(f"strategy.name: {s.name!r} names a strategy twice")


def _check_data(d) -> None:
    """data.pipeline against data.augment; data.extra_eval names."""
    from ..data.tensor_images import SUPPORTED, supported  # noqa: PLC0415

    if d.pipeline == "tensor" and not supported(d.augment):
        raise ConfigError(f"data.pipeline: the tensor pipeline implements only {', '.join(sorted(SUPPORTED))} of "
                          f"data.augment (got {', '.join(sorted(d.augment))}); use data.pipeline: pil or auto")
    reserved = {"validation", "train", "target", *d.eval_splits}
    for name in d.extra_eval:
        if name in reserved:
            raise ConfigError(f"data.extra_eval.{name}: the name is taken by a split; choose another")


def _head_builder(parts: list[str]) -> str | None:
    """The named strategy that builds its own head (`builds_head`), if any."""
    from ..strategies import REGISTRY  # noqa: PLC0415

    return next((p for p in parts if p in REGISTRY and REGISTRY[p].builds_head), None)


def bottleneck_width(cfg: Config) -> int:
    """model.bottleneck, with null resolved: 256 for a domain-adaptation run whose head is a plain linear one."""
    if cfg.model.bottleneck is not None:
        return cfg.model.bottleneck
    plain_head = not _head_builder(cfg.strategy.name.split("+")) and cfg.model.new_head_init != "logreg"
    return 256 if cfg.data.target.dataset and plain_head else 0
