"""What every run kind writes at its end, built in one place:

    metrics(...)   metrics.json, the same fields for every kind (SCHEMA) plus the sections a kind adds of its own
                   (a fitted baseline's `baseline`, a post-hoc method's `posthoc` and its details)
    close(...)     the closing sequence, once: the task's calibration fitted on validation, the model
                   written whole with that temperature folded into it, the domain features, predictions.npz, then
                   lifecycle.finish (card, report, metrics.json, the Hub push)

A kind (loop_run, fitted_run, posthoc_run) gives what only it knows: how it chose its model, its timings, and how
its model is written (`write_model(folder, calibration)`: the task's calibration entry, its temperature or
standardisation folded into the model's last layer).
"""

from __future__ import annotations

from typing import Callable

from .. import run_folder, tasks
from . import lifecycle

SCHEMA = ("status", "name", "modality", "task", "model", "library", "strategy", "label_names", "eval_datasets", "train_on",
          "reads_target_labels", "batch_size", "class_weights", "pooling", "train_samples", "data_pipeline", "domains",
          "selected_epoch", "selected_by", "steps", "final", "calibration", "history", "parameters", "timings",
          "environment", "warnings")  # the keys of every run's metrics.json, in this order
NO_STEPS = {"done": 0, "budget": 0, "per_epoch": 0, "early_stopped": False}  # a run that trains no network


def metrics(cfg, splits, strategy, *, model_name: str, library: str, model, train_samples: int, data_pipeline: str,
            domains: dict, selected_epoch: int, selected_by: str, steps: dict, final: dict, history: list,
            parameters: dict, timings: dict, environment: dict, warnings: list, **sections) -> dict:
    """metrics.json of a finished run (its `calibration` is filled by `close`; `timings.total_seconds` by
    lifecycle.finish; `timings` holds train_seconds and eval_seconds, and what else the kind measured);
    `sections`: a kind's own, none of them a SCHEMA key."""
    clash = set(sections) & set(SCHEMA)
    if clash:
        raise ValueError(f"metrics.json sections {sorted(clash)} are common fields; pass them by name")
    common = {
        "status": "finished", "name": cfg.name, "modality": splits.modality, "task": splits.task.name,
        "model": model_name, "library": library,
        "strategy": cfg.strategy.name, "label_names": splits.label_names,
        "eval_datasets": {"validation": "carved from train" if splits.validation is not None else None,
                          **splits.dataset_ids},
        "train_on": strategy.train_on, "reads_target_labels": strategy.reads_target_labels or None,
        "batch_size": cfg.train.batch_size,
        "class_weights": splits.task.class_weights(cfg.train.class_weights, splits.task.label_array(splits.train),
                                                   splits.label_names),
        "pooling": model.pooling.to_dict() if model is not None and model.pooling is not None else None,
        "train_samples": train_samples, "data_pipeline": data_pipeline, "domains": domains,
        "selected_epoch": selected_epoch, "selected_by": selected_by, "steps": steps, "final": final,
        "calibration": None, "history": history, "parameters": parameters,
        "timings": {"total_seconds": None, "train_samples_per_second": None, "peak_host_memory_mb": None, **timings},
        "environment": environment, "warnings": warnings}
    return {**common, **sections}


def close(start, cfg, metrics: dict, logits: dict, write_model: Callable, features: dict | None = None,
          domains: dict | None = None, keep: str | None = None, task: tasks.Task | None = None) -> dict:
    """Calibrate (the task's way), write the model whole (`write_model(folder, calibration)`) and the task's file, the
    domain-adaptation features, predictions.npz, then the common finish; returns metrics.json as written.
    `logits`: {set: (logits, labels)} of the kept model; `features`: {set: (features, labels)} where the run kept
    them; `keep`: why the model keeps its temperature (no new one fitted)."""
    domains, task = domains or {}, task or tasks.get_task(tasks.DEFAULT)
    metrics["final"], metrics["calibration"] = task.calibrate(cfg, logits, metrics["final"], features,
                                                              domains.get("source"), keep=keep)
    with run_folder.written_whole(start.out / run_folder.MODEL) as model_dir:
        write_model(model_dir, metrics["calibration"])
        tasks.write_saved(model_dir, task, metrics["calibration"])
    if domains and features:
        run_folder.save_features(start.out / run_folder.FEATURES, features, domains, cfg.train.seed)
    run_folder.save_predictions(start.out / run_folder.PREDICTIONS, logits, task.stored)
    return lifecycle.finish(start, cfg, metrics)
