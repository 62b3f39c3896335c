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

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from . import rundir
from .config import Config
from .errors import UserError
from .metrics import collapse_advice, collapse_warnings, scores_from_log_probabilities

log = logging.getLogger("hf_transfer")

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
TFIDF_JSON, TFIDF_TENSORS = "tfidf.json", "tfidf.safetensors"
_VECTORIZER_PARAMS = ("ngram_range", "sublinear_tf", "min_df", "lowercase", "norm", "use_idf", "smooth_idf",
                      "analyzer", "token_pattern", "strip_accents")


def _class_weight(setting, labels, num_classes: int):
    from .runtime import resolve_class_weights

    setting = resolve_class_weights(setting, labels, num_classes)
    if setting is None or setting == "balanced":
        return setting
    if len(setting) != num_classes:
        raise UserError(f"train.class_weights: {len(setting)} weights for {num_classes} classes")
    return dict(enumerate(setting))


def _text_column(ds) -> str:
    return next(c for c in ds.column_names if c != "label")


def tfidf_features(splits) -> tuple[dict, object]:
    """{split: sparse TF-IDF matrix} (fitted on train only) and the vectorizer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    column = _text_column(splits.train)
    sets = {"train": splits.train, **splits.eval_sets}
    features = {"train": vectorizer.fit_transform(splits.train[column])}
    features.update({k: vectorizer.transform(v[column]) for k, v in sets.items() if k != "train"})
    return features, vectorizer


@torch.no_grad()
def backbone_features(model, splits, cfg: Config) -> dict:
    """{split: (n, d) array} of the head's input (pooled features) of the frozen model, eval transforms."""
    from accelerate.utils import send_to_device
    from tqdm.auto import tqdm

    from .data.loaders import build_loaders
    from .runtime import set_numerics

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    set_numerics(cfg.train, device)
    every = dataclasses.replace(splits, evals={"train": splits.train, **splits.evals})
    t = cfg.train
    loaders = build_loaders(every, model, cfg.data, t.batch_size, t.eval_batch_size or 2 * t.batch_size, t.seed,
                            augment={})
    model.to(device).eval()
    features = {}
    for name, dl in loaders.evals.items():
        chunks = []
        for batch in tqdm(dl, desc=f"features {name}", leave=False):
            batch = loaders.on_device(send_to_device(batch, device), False)
            chunks.append(model(batch, return_features=True)[1].float().cpu())
        features[name] = torch.cat(chunks).numpy()
    return features


def fit_logreg(features: dict, labels: dict, cfg: Config, num_classes: int, scale: bool):
    """(pipeline, C, validation score) of the C in C_GRID that scores best on validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    t = cfg.train
    weight = _class_weight(t.class_weights, labels["train"], num_classes)
    has_validation = "validation" in features
    sign = -1.0 if t.metric_for_best == "loss" else 1.0
    scaler = _scaler(features["train"]) if scale else None
    best = None
    for c in C_GRID if has_validation else (1.0,):
        regression = LogisticRegression(C=c, max_iter=3000, class_weight=weight, random_state=t.seed)
        pipe = make_pipeline(*([scaler] if scaler is not None else []), regression)
        regression.fit(scaler.transform(features["train"]) if scaler is not None else features["train"],
                       labels["train"])
        score = (sign * _scores(pipe, features["validation"], labels["validation"], num_classes)[t.metric_for_best]
                 if has_validation else 0.0)
        log.info("logistic regression C=%g: validation %s %.4f", c, t.metric_for_best, sign * score)
        if best is None or score > best[2]:
            best = (pipe, c, score)
    return best[0], best[1], sign * best[2]


def _scaler(x: np.ndarray):
    """StandardScaler fitted on `x`, with every scale at least 1e-3 of the median one: embedding models
    have dead dimensions (all-MiniLM-L6-v2: 3 of 384 are ~1e-34 everywhere) that plain standardising
    blows up into unit-variance noise, and folded into a head as weights of ~1e31."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scaler.scale_ = np.maximum(scaler.scale_, 1e-3 * np.median(scaler.scale_))
    return scaler


def _scores(pipe, x, y, num_classes: int, label_names=None) -> dict:
    return scores_from_log_probabilities(log_proba(pipe, x, num_classes), y,
                                         label_names or [str(i) for i in range(num_classes)])


def log_proba(pipe, x, num_classes: int) -> np.ndarray:
    """log of `_proba`, each probability at least 1e-12 (a class absent from train: log 1e-12, not -inf)."""
    return np.log(np.clip(_proba(pipe, x, num_classes), 1e-12, None))


def _proba(pipe, x, num_classes: int) -> np.ndarray:
    """Class probabilities over all classes (a class absent from train gets 0)."""
    proba = np.zeros((x.shape[0], num_classes))
    proba[:, pipe.classes_] = pipe.predict_proba(x)
    return proba


def _labels(splits) -> dict:
    """{split: labels} of the train split and every evaluation set."""
    return {k: list(v["label"]) for k, v in {"train": splits.train, **splits.eval_sets}.items()}


def init_head_from_logreg(model, splits, cfg: Config) -> None:
    """model.new_head_init: logreg (LP-FT): fit the regression on the frozen features of the train split
    (C on validation) and fold it into the new head, before fine-tuning starts."""
    train_and_validation = dataclasses.replace(splits, evals={})
    features = backbone_features(model, train_and_validation, cfg)
    labels = _labels(train_and_validation)
    pipe, c, value = fit_logreg(features, labels, cfg, len(splits.label_names), scale=True)
    fold_into_head(model, pipe, len(splits.label_names), who="model.new_head_init: logreg")
    log.info("new head: logistic regression on frozen features (C=%g, validation %s %.4f)", c,
             cfg.train.metric_for_best, value)


def fold_into_head(model, pipe, num_classes: int, who: str = "strategy.name: frozen_logreg") -> None:
    """Set the model's linear head to standardisation + logistic regression: logits = W (x - mu) / sigma + b,
    so that the saved model predicts as the fitted pipeline does."""
    scaler, reg = pipe[0], pipe[-1]
    coef, intercept = reg.coef_, reg.intercept_
    if coef.shape[0] == 1 and len(reg.classes_) == 2:  # binary: one score for the second class
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
    weight = np.full((num_classes, coef.shape[1]), 0.0)
    bias = np.full(num_classes, -1e4)  # a class never seen in training is never predicted
    w = coef / scaler.scale_
    weight[reg.classes_], bias[reg.classes_] = w, intercept - w @ scaler.mean_
    head = model.head
    if not isinstance(head, torch.nn.Linear):
        raise UserError(f"{who} needs a model whose head is one linear layer, not {type(head).__name__} "
                        "(for a text model, set model.pooling: mean)")
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))


def common_metrics(cfg: Config, splits, strategy: str, model_name: str, library: str, model=None) -> dict:
    """The metrics.json fields a run without the training loop (a fitted baseline, a post-hoc adaptation)
    shares with a trained one."""
    return {"status": "finished", "name": cfg.name, "task": splits.task, "model": model_name, "library": library,
            "strategy": strategy, "label_names": splits.label_names,
            "eval_datasets": {"validation": "carved from train" if splits.validation is not None else None,
                              **splits.dataset_ids},
            "train_on": "source", "batch_size": cfg.train.batch_size, "class_weights": _resolved_weights(cfg, splits),
            "pooling": model.pooling.to_dict() if model is not None and model.pooling is not None else None,
            "selected_epoch": 1}


def _resolved_weights(cfg: Config, splits):
    """train.class_weights as the run applied it ('auto' decided from the training labels)."""
    from .runtime import resolve_class_weights

    return resolve_class_weights(cfg.train.class_weights, splits.train["label"], len(splits.label_names))


def run(cfg: Config, strategy, overwrite: bool = False) -> dict:
    """Fit the baseline `strategy` on `cfg`'s data and write its run directory; returns metrics.json."""
    from .models import load_backbone

    out, started, splits = start_run(cfg, overwrite)
    if splits.task not in strategy.tasks:
        raise UserError(f"strategy.name: {strategy.name} works on {' or '.join(strategy.tasks)} data, "
                        f"and {cfg.data.dataset} is {splits.task}")
    model = load_backbone(cfg.model, splits.task, splits.label_names) if strategy.needs_backbone else None
    make_run_dir(out, cfg, overwrite)
    n = len(splits.label_names)
    tick = time.perf_counter()
    vectorizer = None
    if model is None:
        features, vectorizer = tfidf_features(splits)
    else:
        for p in model.parameters():
            p.requires_grad_(False)
        features = backbone_features(model, splits, cfg)
    labels = _labels(splits)
    feature_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    pipe, c, value = fit_logreg(features, labels, cfg, n, scale=model is not None)
    fit = {"pipe": pipe, "C": c, "value": value, "feature_seconds": feature_seconds,
           "fit_seconds": time.perf_counter() - tick}
    metrics = _metrics(cfg, strategy, splits, model, features, labels, fit)
    with rundir.written_whole(out / rundir.MODEL) as model_dir:
        if model is not None:
            fold_into_head(model, pipe, n)
            model.cpu().save_pretrained(model_dir, image_size=cfg.data.image_size if splits.task == "image" else None)
        else:
            save_tfidf(model_dir, vectorizer, pipe[-1], splits.label_names)
    return write_outputs(out, cfg, metrics, started)


def save_tfidf(directory: Path, vectorizer, regression, label_names: list[str]) -> None:
    """The TF-IDF + logistic regression model as JSON (vocabulary, settings, labels) and safetensors (idf,
    coefficients): numbers only, nothing that runs when loaded."""
    from safetensors.numpy import save_file

    params = vectorizer.get_params()
    settings = {k: params[k] for k in _VECTORIZER_PARAMS}
    settings["ngram_range"] = list(settings["ngram_range"])
    vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    (directory / TFIDF_JSON).write_text(json.dumps({"label_names": label_names, "vectorizer": settings,
                                                    "vocabulary": vocabulary}))
    arrays = {"idf": vectorizer.idf_, "coef": regression.coef_, "intercept": regression.intercept_,
              "classes": regression.classes_.astype(np.int64)}
    # C order: safetensors writes the raw buffer, and a fitted coef_ can be Fortran-ordered
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(directory / TFIDF_TENSORS))


def load_tfidf(directory: str | Path):
    """(scikit-learn pipeline, label names) of a model `save_tfidf` wrote; `pipeline.predict(texts)` gives class
    ids into the label names, `predict_proba` their probabilities."""
    from safetensors.numpy import load_file
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    directory = Path(directory)
    saved = json.loads((directory / TFIDF_JSON).read_text())
    arrays = load_file(str(directory / TFIDF_TENSORS))
    settings = {**saved["vectorizer"], "ngram_range": tuple(saved["vectorizer"]["ngram_range"])}
    vectorizer = TfidfVectorizer(**settings)
    vectorizer.vocabulary_ = saved["vocabulary"]
    vectorizer.idf_ = arrays["idf"]
    regression = LogisticRegression()
    regression.coef_, regression.intercept_, regression.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
    return make_pipeline(vectorizer, regression), saved["label_names"]


def _metrics(cfg: Config, strategy, splits, model, features: dict, labels: dict, fit: dict) -> dict:
    """metrics.json of a fitted baseline: the chosen C's scores on every eval set."""
    from .models import count_parameters
    from .runtime import environment_info, peak_host_memory_mb

    n, pipe, c = len(splits.label_names), fit["pipe"], fit["C"]
    results = {k: _scores(pipe, features[k], labels[k], n, splits.label_names) for k in splits.eval_sets}
    coefficients = int(pipe[-1].coef_.size + pipe[-1].intercept_.size)
    selected_by = (f"validation/{cfg.train.metric_for_best} over C in {list(C_GRID)} (C={c:g}, {fit['value']:.4f})"
                   if "validation" in results else "C=1 (no validation split)")
    what = ("TF-IDF of word 1-2-grams (sublinear tf)" if model is None else
            f"frozen {cfg.model.name} features ({features['train'].shape[1]}), standardised")
    seconds = fit["feature_seconds"] + fit["fit_seconds"]
    return {
        **common_metrics(cfg, splits, strategy.name, "tfidf" if model is None else cfg.model.name,
                         "scikit-learn" if model is None else model.library, model),
        "train_samples": len(splits.train), "data_pipeline": "features", "domains": {}, "selected_by": selected_by,
        "steps": {"done": 0, "budget": 0, "per_epoch": 0, "early_stopped": False},
        "baseline": {"features": what, "classifier": f"LogisticRegression(C={c:g}, class_weight="
                                                     f"{_resolved_weights(cfg, splits)})", "C": c,
                     "feature_dim": int(features["train"].shape[1])},
        "final": results,
        "history": [{"epoch": 1, "step": 0, "train_loss": _scores(pipe, features["train"], labels["train"], n)["loss"],
                     "train_seconds": round(fit["fit_seconds"], 3), "eval": results}],
        "parameters": {"trainable": coefficients,
                       "total": coefficients + (count_parameters(model)[1] if model is not None else 0)},
        "timings": {"total_seconds": 0.0, "train_seconds": round(seconds, 2), "eval_seconds": 0.0,
                    "feature_seconds": round(fit["feature_seconds"], 2),
                    "train_samples_per_second": round(len(splits.train) / seconds, 2),
                    "peak_host_memory_mb": peak_host_memory_mb()},
        "environment": environment_info(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
        "warnings": splits.warnings + collapse_warnings(results, splits.label_names,
                                                        collapse_advice(_resolved_weights(cfg, splits))),
    }


def start_run(cfg: Config, overwrite: bool = False):
    """The start of a run without the training loop (a fitted baseline, a post-hoc adaptation): refuse an
    output folder in use, seed, load the data. Returns (run dir, start time, splits); nothing is written."""
    from accelerate.utils import set_seed

    from .data.sources import build_splits

    out = Path(cfg.output_dir)
    rundir.check(out, overwrite=overwrite)
    started = time.perf_counter()
    set_seed(cfg.train.seed)
    return out, started, build_splits(cfg.data, cfg.task, cfg.train.seed)


def make_run_dir(out: Path, cfg: Config, overwrite: bool = False) -> None:
    """Once data and model have loaded: the run directory with its config.yaml, logging into its train.log."""
    from .runtime import setup_logging

    rundir.prepare(out, overwrite=overwrite)
    (out / rundir.CONFIG).write_text(cfg.to_yaml())
    setup_logging(out, True)


def write_outputs(out: Path, cfg: Config, metrics: dict, started: float) -> dict:
    """The end of a run without the training loop (a fitted baseline, a post-hoc adaptation): total time,
    warnings logged, then what every run writes at its end (outputs.finish, the Hub push included)."""
    from . import outputs

    rundir.discard_previous(out)  # finished: what --overwrite replaced is gone now
    metrics["timings"]["total_seconds"] = round(time.perf_counter() - started, 2)
    for warning in metrics["warnings"]:
        log.warning("%s: %s", cfg.name, warning)
    return outputs.finish(out, cfg, metrics)


def baseline_configs(cfg: Config, strategies: tuple = ("tfidf_logreg", "frozen_logreg")) -> list[Config]:
    """The fitted baselines of a fine-tuning config, for a recipe's `--baselines`: the same data, backbone,
    seed, class weights and selection metric, each in a folder beside the config's own."""
    from .config import apply_overrides

    parent, prefix = Path(cfg.output_dir).parent, cfg.name.split("_")[0]  # digits_finetune -> digits_frozen_logreg
    return [apply_overrides(cfg, [f"strategy.name={s}", f"name={prefix}_{s}", f"output_dir={parent / s}"])
            for s in strategies]
