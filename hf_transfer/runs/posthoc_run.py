"""Run a post-hoc adaptation (`strategy.name: adabn | bbse | mlls | wise_ft`) into a run directory.

The trained source model (`model.name`, e.g. a source_only run's model/) is loaded with its head,
adjusted with the unlabelled target train set (strategies/posthoc.py: no gradient step), scored on
every eval set by the loop's own evaluation (`scoring.score_sets`) and saved as a plain model, with
the same metrics.json, features, report.md and card as a trained run, so `hf-transfer report` puts it
beside the methods that train.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from accelerate.utils import send_to_device
from tqdm.auto import tqdm

from ..config import Config
from ..errors import UserError
from ..models.heads import divide_logits
from ..strategies.baselines import FLOOR
from . import lifecycle, outputs

UNLABELLED = "target_unlabelled"


def trained_prior(splits, cfg: Config) -> np.ndarray:
    """The class prior a model trained on `splits.train` with `cfg.train.class_weights` was fitted to: the
    label frequencies, re-weighted by the loss's class weights (balanced weights: uniform)."""
    from ..tasks.class_weights import class_weight_tensor

    n = len(splits.label_names)
    counts = np.bincount(np.asarray(splits.train["label"]), minlength=n).astype(float)
    weights = class_weight_tensor(cfg.train.class_weights, splits.train["label"], n)
    prior = counts * (weights.numpy() if weights is not None else 1.0)
    return prior / prior.sum()


def _source_model(cfg: Config, strategy, start: lifecycle.Start):
    """(splits, model): the data and the trained source model, checked; then the run folder."""
    from ..data.splits import build_splits
    from ..models import load_backbone

    splits = build_splits(cfg.data, cfg.modality, cfg.train.seed, task=cfg.task)
    strategy.check_task(splits.task)
    model = load_backbone(cfg.model, splits.modality, splits.label_names)
    if model.head_is_new:
        raise UserError(f"model.name: {strategy.name} adjusts a trained source model; {cfg.model.name!r} has no head "
                        f"for these labels (give the model/ folder of a {FLOOR} run)")
    if splits.validation is None and strategy.needs_validation:
        raise UserError(f"data.validation_split: {strategy.name} reads a held-out source validation set; do not "
                        "set it to null")
    lifecycle.open_folder(start, cfg)
    return splits, model


def _predictor(model, loaders, device, desc: str):
    """predict(name, train_mode_for=()) -> (logits, labels or None) of the model over the set `name`;
    `train_mode_for`: modules run in train mode (adabn's BatchNorm layers)."""

    @torch.no_grad()
    def predict(name: str, train_mode_for=()):
        model.eval()
        for m in train_mode_for:
            m.train()
        logits, labels = [], []
        for batch in tqdm(loaders.evals[name], desc=f"{desc} {name}", leave=False):
            batch = loaders.on_device(send_to_device(batch, device), False)
            logits.append(model(batch).float().cpu())
            if "labels" in batch:
                labels.append(batch["labels"].cpu())
        model.eval()
        return torch.cat(logits), torch.cat(labels) if labels else None

    predict.labelled = [name for name in loaders.evals if name != UNLABELLED]  # the sets with labels
    return predict


def run(cfg: Config, strategy, start: lifecycle.Start) -> dict:
    """Adjust `cfg.model.name` by `strategy` and write the run directory; returns metrics.json."""
    from ..data.loaders import build_loaders
    from ..metrics import proxy_a_distance
    from .machine import fresh_accelerator
    from .scoring import score_sets

    splits, model = _source_model(cfg, strategy, start)
    accelerator, t = fresh_accelerator(), cfg.train
    sets = dataclasses.replace(splits, evals={**splits.evals, UNLABELLED: splits.target_train})
    loaders = build_loaders(sets, model, cfg.data, t.batch_size, t.eval_batch_size or 2 * t.batch_size, t.seed,
                            augment={})
    model.to(accelerator.device).eval()
    tick = time.perf_counter()
    details = strategy.adjust(model, _predictor(model, loaders, accelerator.device, strategy.name),
                              trained_prior(splits, cfg))
    adjust_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    eval_dls = {k: v for k, v in loaders.evals.items() if k != UNLABELLED}
    logits = {}
    results, feats = score_sets(model, eval_dls, accelerator, splits.task, splits.label_names, prepare=loaders.on_device,
                                feature_sets=(*splits.domains.values(), "validation"), logits_out=logits)
    model.eval()
    domains = splits.domains
    entry = {"epoch": 1, "step": 0, "train_loss": None, "train_seconds": round(adjust_seconds, 3), "eval": results,
             "a_distance": proxy_a_distance(feats[domains["source"]][0], feats[domains["target"]][0], t.seed)}
    if "label_shift" in details:  # the true target priors, for the report only (never used above)
        counts = torch.bincount(torch.tensor(splits.evals["target"]["label"]), minlength=len(splits.label_names))
        details["label_shift"]["true_target_priors"] = (counts / counts.sum()).tolist()
    timings = {"adjust": adjust_seconds, "eval": time.perf_counter() - tick}
    metrics = _metrics(cfg, strategy, splits, model, loaders, accelerator, entry, details, timings)

    def write_model(model_dir, entry: dict) -> None:
        temperature = entry["temperature"]
        divide_logits(model, temperature)  # 1.0 where kept: the saved model is calibrated
        model.cpu().save_pretrained(model_dir, image_size=cfg.data.image_size if splits.modality == "image" else None)

    return outputs.close(start, cfg, metrics, logits, write_model, feats, domains,
                         keep=f"{strategy.name} adjusts a trained model and keeps the temperature its own run fitted"
                         if strategy.keeps_temperature else None)


def _metrics(cfg: Config, strategy, splits, model, loaders, accelerator, entry: dict, details: dict,
             timings: dict) -> dict:
    """metrics.json of a post-hoc run: one history entry, no training."""
    from ..metrics import collapse_warnings
    from ..models import count_parameters
    from .machine import environment, peak_host_memory_mb

    results, adjust_seconds = entry["eval"], timings["adjust"]
    return outputs.metrics(
        cfg, splits, strategy, model_name=cfg.model.name, library=model.library, model=model, train_samples=0,
        data_pipeline=loaders.pipeline, domains=splits.domains, selected_epoch=1,
        selected_by=f"{strategy.name} of {cfg.model.name} (no training)", steps=outputs.NO_STEPS, final=results,
        history=[entry], parameters={"trainable": 0, "total": count_parameters(model)[1]},
        timings={"train_seconds": round(adjust_seconds, 2), "eval_seconds": round(timings["eval"], 2),
                 "train_samples_per_second": round(len(splits.target_train) / max(adjust_seconds, 1e-9), 2),
                 "peak_host_memory_mb": peak_host_memory_mb()},
        environment=environment(accelerator), warnings=splits.warnings + collapse_warnings(results, splits.label_names),
        posthoc={"method": strategy.name, "source_model": cfg.model.name, "target_samples": len(splits.target_train)},
        **details)
