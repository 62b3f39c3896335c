"""A logistic regression on fixed features: frozen backbone features (standardised) or TF-IDF word n-grams,
C chosen on the validation split. The fitted baselines are these (fitted_run.py); the loop starts a new head
from one (model.new_head_init: logreg, LP-FT); predict and evaluate load the saved TF-IDF form."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from ..errors import UserError
from ..models.saved_config import read_json
from ..tasks import metric_for_best

log = logging.getLogger("hf_transfer")


TFIDF_JSON, TFIDF_TENSORS = "tfidf.json", "tfidf.safetensors"


_VECTORIZER_PARAMS = ("ngram_range", "sublinear_tf", "min_df", "lowercase", "norm", "use_idf", "smooth_idf",
                      "analyzer", "token_pattern", "strip_accents")


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

    from ..data.loaders import build_loaders
    from .machine import set_numerics

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


def fit_logreg(features: dict, labels: dict, cfg: Config, task, names: list[str], scale: bool, metric: str):
    """(pipeline, strength, validation `metric`) of the task's linear model whose regularisation strength (of
    task.linear_grid) scores best on validation."""
    from sklearn.pipeline import make_pipeline

    t = cfg.train
    has_validation = "validation" in features
    scaler = _scaler(features["train"]) if scale else None
    x = scaler.transform(features["train"]) if scaler is not None else features["train"]
    best = None
    for strength in task.linear_grid if has_validation else (task.linear_default,):
        pipe = make_pipeline(*([scaler] if scaler is not None else []),
                             task.fit_linear(x, labels["train"], strength, t.class_weights, names, t.seed))
        score = scores(pipe, features["validation"], labels["validation"], task, names)[metric] \
            if has_validation else 0.0
        log.info("%s: validation %s %.4f", task.linear_name.format(strength=strength, class_weights=t.class_weights),
                 metric, score)
        if best is None or task.better(metric, score, best[2]):
            best = (pipe, strength, score)
    return best


def _scaler(x: np.ndarray):
    """StandardScaler fitted on `x`, with every scale at least 1e-3 of the median one: embedding models
    have dead dimensions (all-MiniLM-L6-v2: 3 of 384 are ~1e-34 everywhere) that plain standardising
    blows up into unit-variance noise, and folded into a head as weights of ~1e31."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scaler.scale_ = np.maximum(scaler.scale_, 1e-3 * np.median(scaler.scale_))
    return scaler


def scores(pipe, x, y, task, names: list[str]) -> dict:
    """The task's metrics of a fitted pipeline on features `x` against labels `y`."""
    return task.scores(task.linear_outputs(pipe, x), y, names)


def labels_of(splits) -> dict:
    """{split: labels, as the task's loss reads them} of the train split and every evaluation set."""
    return {k: splits.task.label_array(v) for k, v in {"train": splits.train, **splits.eval_sets}.items()}


def init_head_from_logreg(model, splits, cfg: Config) -> None:
    """model.new_head_init: logreg (LP-FT): fit the regression on the frozen features of the train split
    (C on validation) and fold it into the new head, before fine-tuning starts."""
    train_and_validation = dataclasses.replace(splits, evals={})
    features = backbone_features(model, train_and_validation, cfg)
    labels = {k: splits.task.head_targets(v) for k, v in labels_of(train_and_validation).items()}
    metric = metric_for_best(cfg, splits.task)
    pipe, c, value = fit_logreg(features, labels, cfg, splits.task, splits.label_names, scale=True, metric=metric)
    fold_into_head(model, pipe, splits.task, splits.label_names, who="model.new_head_init: logreg")
    log.info("new head: %s on frozen features (validation %s %.4f, in the head's units)",
             splits.task.linear_name.format(strength=c, class_weights=cfg.train.class_weights), metric, value)


def fold_into_head(model, pipe, task, names: list[str], who: str = "strategy.name") -> None:
    """Set the model's linear head to standardisation + the task's linear model: outputs = W (x - mu) / sigma + b,
    so that the saved model predicts as the fitted pipeline does."""
    scaler = pipe[0]
    coef, intercept = task.linear_head(pipe[-1], names)
    weight = coef / scaler.scale_
    bias = intercept - weight @ scaler.mean_
    head = model.head
    if not isinstance(head, torch.nn.Linear):
        raise UserError(f"{who} needs a model whose head is one linear layer, not {type(head).__name__} "
                        "(for a text model, set model.pooling: mean)")
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))


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


def load_tfidf(directory: str | Path, task=None):
    """(scikit-learn pipeline, label names) of a model `save_tfidf` wrote for `task` (default: single-label);
    `task.linear_outputs(pipeline, texts)` gives its outputs. A folder's files are data: anything other than what
    `save_tfidf` writes (a huge n-gram range, another token pattern, indices out of range) is refused."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    directory = Path(directory)
    saved, arrays = _read_tfidf(directory, task is None or task.single_class)
    settings = {**saved["vectorizer"], "ngram_range": tuple(saved["vectorizer"]["ngram_range"])}
    vectorizer = TfidfVectorizer(**settings)
    vectorizer.vocabulary_ = saved["vocabulary"]
    vectorizer.idf_ = arrays["idf"]
    regression = LogisticRegression()
    regression.coef_, regression.intercept_, regression.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
    return make_pipeline(vectorizer, regression), saved["label_names"]


_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's, the one save_tfidf writes
_SETTINGS = {  # what save_tfidf can write: each setting's check
    "ngram_range": lambda v: isinstance(v, list) and len(v) == 2 and all(type(n) is int for n in v) and 1 <= v[0] <= v[1] <= 3,
    "sublinear_tf": lambda v: isinstance(v, bool), "lowercase": lambda v: isinstance(v, bool),
    "use_idf": lambda v: isinstance(v, bool), "smooth_idf": lambda v: isinstance(v, bool),
    "min_df": lambda v: type(v) is int and v >= 1 or type(v) is float and 0 < v <= 1,
    "norm": lambda v: v in ("l1", "l2", None), "analyzer": lambda v: v == "word",
    "token_pattern": lambda v: v == _TOKEN_PATTERN, "strip_accents": lambda v: v in (None, "ascii", "unicode"),
}


def _read_tfidf(directory: Path, classes: bool = True) -> tuple[dict, dict]:
    """tfidf.json and tfidf.safetensors, checked against what save_tfidf writes, or one line naming the problem."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    where = f"model: {directory / TFIDF_JSON}"
    saved = read_json(directory / TFIDF_JSON, "model")
    if not isinstance(saved, dict) or set(saved) != {"label_names", "vectorizer", "vocabulary"}:
        raise UserError(f"{where}: expected the keys label_names, vectorizer and vocabulary; the folder is not a saved "
                        "TF-IDF model")
    settings, names, vocabulary = saved["vectorizer"], saved["label_names"], saved["vocabulary"]
    if not isinstance(settings, dict) or set(settings) != set(_SETTINGS):
        raise UserError(f"{where}: vectorizer must hold exactly {', '.join(_SETTINGS)}")
    bad = [k for k, ok in _SETTINGS.items() if not ok(settings[k])]
    if bad:
        raise UserError(f"{where}: vectorizer.{bad[0]} = {settings[bad[0]]!r} is not a value hf-transfer writes "
                        "(n-grams of 1 to 3 words, scikit-learn's word pattern); the file was changed")
    least = 2 if classes else 1  # a regression model's one name: its target's
    if not (isinstance(names, list) and len(names) >= least and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names)):
        raise UserError(f"{where}: label_names must be {'two' if classes else 'one'} or more distinct strings")
    try:
        arrays = load_file(str(directory / TFIDF_TENSORS))
    except (OSError, SafetensorError) as e:
        raise UserError(f"model: {directory / TFIDF_TENSORS}: not a readable safetensors file ({e})") from None
    _check_tfidf_arrays(where, arrays, vocabulary, len(names), classes)
    return saved, arrays


def _check_tfidf_arrays(where: str, arrays: dict, vocabulary, classes: int, one_row_binary: bool = True) -> None:
    """idf, coef, intercept and classes shaped for the vocabulary and the labels; vocabulary indices 0..V-1 once each."""
    if set(arrays) != {"idf", "coef", "intercept", "classes"}:
        raise UserError(f"{where}: tfidf.safetensors must hold idf, coef, intercept and classes")
    width = arrays["idf"].shape[0] if arrays["idf"].ndim == 1 else -1
    if not (isinstance(vocabulary, dict) and all(isinstance(t, str) and type(i) is int for t, i in vocabulary.items())
            and sorted(vocabulary.values()) == list(range(width))):
        raise UserError(f"{where}: vocabulary must map each term to one of the indices 0..{max(width, 1) - 1}, once each")
    rows = 1 if classes == 2 and one_row_binary else classes  # a binary logistic regression: one row
    shapes = {"coef": (rows, width), "intercept": (rows,), "classes": (classes,)}
    wrong = [k for k, shape in shapes.items() if arrays[k].shape != shape]
    if wrong or not np.array_equal(arrays["classes"], np.arange(classes)):
        raise UserError(f"{where}: tfidf.safetensors does not fit {classes} labels and {width} terms "
                        f"({', '.join(wrong) or 'classes'} differ)")
