"""Run a fitted baseline (`strategy.name: tfidf_logreg | frozen_logreg`) into a run directory.

The same data splits, metrics code, metrics.json, report.md and model card as a fine-tuned run, so
`hf-transfer report` puts them side by side. Steps: features of every split (TF-IDF, or the frozen
backbone's pooled features), logistic regression for each C of a grid, the C that scores best on
validation (`train.metric_for_best`), metrics of every eval set, then the model: the regression
folded into the backbone's linear head (frozen_logreg; a plain timm / transformers model), or the
TF-IDF vocabulary and regression as numbers (tfidf_logreg: model/tfidf.json + tfidf.safetensors, no pickle,
so a downloaded model loads without running code; `load_tfidf`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from ..errors import UserError
from ..models.heads import fold_affine
from ..tasks import metric_for_best
from . import lifecycle, outputs
from .logreg import backbone_features, fit_logreg, fold_into_head, labels_of, save_tfidf, scores, tfidf_features


def run(cfg: Config, strategy, start: lifecycle.Start) -> dict:
    """Fit the baseline `strategy` on `cfg`'s data and write its run directory; returns metrics.json."""
    from ..data.splits import build_splits
    from ..models import load_backbone

    splits = build_splits(cfg.data, cfg.modality, cfg.train.seed, task=cfg.task)
    strategy.check_task(splits.task)
    if splits.modality not in strategy.modalities:
        raise UserError(f"strategy.name: {strategy.name} works on {' or '.join(strategy.modalities)} data, "
                        f"and {cfg.data.dataset} is {splits.modality}")
    model = load_backbone(cfg.model, splits.modality, splits.label_names) if strategy.needs_backbone else None
    lifecycle.open_folder(start, cfg)
    task, names = splits.task, splits.label_names
    tick = time.perf_counter()
    vectorizer = None
    if model is None:
        features, vectorizer = tfidf_features(splits)
    else:
        strategy.tune_body(model, splits, cfg)
        for p in model.parameters():
            p.requires_grad_(False)
        features = backbone_features(model, splits, cfg)
    labels = labels_of(splits)
    feature_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    pipe, c, value = fit_logreg(features, labels, cfg, task, names, scale=model is not None,
                                metric=metric_for_best(cfg, task))
    fit = {"pipe": pipe, "C": c, "value": value, "feature_seconds": feature_seconds,
           "fit_seconds": time.perf_counter() - tick}
    logits = {k: (task.linear_outputs(pipe, features[k]), np.asarray(labels[k])) for k in splits.eval_sets}
    metrics = _metrics(cfg, strategy, splits, model, features, labels, logits, fit)

    def write_model(model_dir, entry: dict) -> None:
        fold = task.output_affine(entry)  # a temperature; nothing for a ridge regression (in the target's units)
        if model is not None:
            fold_into_head(model, pipe, task, names, who=f"strategy.name: {strategy.name}")
            fold_affine(model, **fold)  # the saved model gives calibrated outputs
            model.adapter.set_problem_type(model, task.problem_type)
            model.cpu().save_pretrained(model_dir, image_size=cfg.data.image_size if splits.modality == "image" else None)
        else:
            linear = pipe[-1]
            linear.coef_, linear.intercept_ = _folded(linear.coef_, fold), _folded(linear.intercept_, fold, shift=True)
            save_tfidf(model_dir, vectorizer, linear, names)

    return outputs.close(start, cfg, metrics, logits, write_model, task=task)


def _folded(values: np.ndarray, fold: dict, shift: bool = False) -> np.ndarray:
    """A linear model's weights (outputs, features) or, with `shift`, its intercept (outputs,) with fold_affine's
    scale and shift (scalars or one per output) and divide."""
    per_output = (-1,) + (1,) * (values.ndim - 1)
    values = values * np.reshape(fold["scale"], per_output if np.ndim(fold["scale"]) else ()) if "scale" in fold else values
    values = values / fold["divide"] if "divide" in fold else values
    return values + np.asarray(fold.get("shift", 0.0)) if shift else values


def _metrics(cfg: Config, strategy, splits, model, features: dict, labels: dict, logits: dict, fit: dict) -> dict:
    """metrics.json of a fitted baseline: the chosen C's scores on every eval set, from its outputs there (`logits`)."""
    from ..models import count_parameters
    from .machine import environment_info, peak_host_memory_mb

    task, names, pipe, c = splits.task, splits.label_names, fit["pipe"], fit["C"]
    results = {k: task.scores(z, y, names) for k, (z, y) in logits.items()}
    coefficients = int(pipe[-1].coef_.size + pipe[-1].intercept_.size)
    strength = task.linear_strength
    selected_by = (f"validation/{metric_for_best(cfg, task)} over {strength} in {list(task.linear_grid)} "
                   f"({strength}={c:g}, {fit['value']:.4f})" if "validation" in results else
                   f"{strength}={task.linear_default:g} (no validation split)")
    what = ("TF-IDF of word 1-2-grams (sublinear tf)" if model is None else
            f"{strategy.features_note or 'frozen'} {cfg.model.name} features ({features['train'].shape[1]}), standardised")
    seconds = fit["feature_seconds"] + fit["fit_seconds"]
    metrics = outputs.metrics(
        cfg, splits, strategy, model_name="tfidf" if model is None else cfg.model.name,
        library="scikit-learn" if model is None else model.library, model=model, train_samples=len(splits.train),
        data_pipeline="features", domains={}, selected_epoch=1, selected_by=selected_by, steps=outputs.NO_STEPS,
        final=results,
        history=[{"epoch": 1, "step": 0, "train_loss": scores(pipe, features["train"], labels["train"], task, names)["loss"],
                  "train_seconds": round(fit["fit_seconds"], 3), "eval": results}],
        parameters={"trainable": coefficients,
                    "total": coefficients + (count_parameters(model)[1] if model is not None else 0)},
        timings={"train_seconds": round(seconds, 2), "eval_seconds": 0.0,
                 "feature_seconds": round(fit["feature_seconds"], 2),
                 "train_samples_per_second": round(len(splits.train) / seconds, 2),
                 "peak_host_memory_mb": peak_host_memory_mb()},
        environment=environment_info(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
        warnings=list(splits.warnings))
    class_weights = metrics["class_weights"]  # as metrics.json resolved them
    metrics["warnings"] += task.warnings(results, names, {"class_weights": class_weights})
    metrics["baseline"] = {"features": what, "classifier": task.linear_name.format(strength=c, class_weights=class_weights),
                           "C": c, "feature_dim": int(features["train"].shape[1])}
    return metrics


def with_baselines(values: dict, baselines: bool) -> Config | list[Config]:
    """A recipe's config from `values`; with `baselines` (its `--baselines`), the config in `<output_dir>/finetune`
    followed by its fitted baselines beside it, for one report."""
    from ..config import from_dict

    if not baselines:
        return from_dict(values)
    cfg = from_dict({**values, "output_dir": f"{values['output_dir']}/finetune"})
    return [cfg, *baseline_configs(cfg)]


def baseline_configs(cfg: Config, strategies: tuple | None = None) -> list[Config]:
    """The fitted baselines of a fine-tuning config, for a recipe's `--baselines`: the same data, backbone,
    seed, class weights and selection metric, each in a folder beside the config's own."""
    from ..config import apply_overrides
    from ..strategies.registry import baselines

    parent, prefix = Path(cfg.output_dir).parent, cfg.name.split("_")[0]  # digits_finetune -> digits_frozen_logreg
    return [apply_overrides(cfg, [f"strategy.name={s}", f"name={prefix}_{s}", f"output_dir={parent / s}"])
            for s in strategies or baselines()]
