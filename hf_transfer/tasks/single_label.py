"""One class per row (`single_label`): a ClassLabel column, one output per class, cross-entropy (class weights under
train.class_weights), accuracy / F1 / per class / confusion matrix (metrics.py), temperature scaling and the
out-of-distribution scores (temperature.py), softmax probabilities."""

from __future__ import annotations

import logging
from collections import Counter

import datasets
import numpy as np

from ..errors import ConfigError
from ..metrics import classification_metrics, collapse_advice, collapse_warnings
from .class_weights import IMBALANCED, class_weight_tensor, resolve_class_weights
from .task import Task, register_task

log = logging.getLogger(__name__)

BEST_METRICS = ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro", "loss")


@register_task("single_label")
class SingleLabel(Task):
    metric_for_best = "f1_macro"  # macro-F1 does not reward predicting the majority class
    best_metrics = BEST_METRICS
    headline = (("accuracy", "accuracy", "acc"), ("f1_macro", "macro-F1", "F1"))
    table = (("accuracy", "accuracy"), ("f1_macro", "macro-F1"), ("f1_weighted", "weighted-F1"), ("loss", "loss"))
    problem_type = "single_label_classification"
    card_metrics = (("accuracy", "Accuracy"), ("f1_macro", "F1 (macro)"), ("f1_weighted", "F1 (weighted)"))
    noun = "classifier"
    names_title = "Classes"
    soft_targets = True
    single_class = True
    stratified = True

    def summary(self, labels: list, names: list[str]) -> str:
        counts = Counter(names[y] for y in labels if y is not None and y >= 0)
        shares = ", ".join(f"{k} {100 * n / sum(counts.values()):.0f} %" for k, n in counts.most_common(8))
        return f"{len(counts)} classes ({shares}{', ...' if len(counts) > 8 else ''})"

    def weights_note(self, labels: list, names: list[str]) -> str | None:
        counts = Counter(y for y in labels if y is not None and y >= 0)
        imbalance = max(counts.values()) / max(min(counts.values()), 1)
        return (f"{'balanced' if imbalance > IMBALANCED else 'none'} here (largest class {imbalance:.1f}x the "
                "smallest)")

    def purpose(self, things: str, names: list[str]) -> str:
        return f"classifies {things} into the {len(names)} classes above"

    def prepare(self, dd, data_cfg, column: str):
        dd = _as_class_labels(dd)
        return dd, list(next(iter(dd.values())).features["label"].names)

    def labelled(self, y) -> bool:
        return y is not None and y >= 0

    def align(self, ds, names: list[str], key: str, subset: bool = False):
        own = ds.features["label"].names
        if own == list(names):
            return ds
        if not (set(own) <= set(names) if subset else sorted(own) == sorted(names)):
            raise ConfigError(f"{key}: its labels ({', '.join(own)}) are not the training labels ({', '.join(names)})")
        return ds.align_labels_with_mapping({n: i for i, n in enumerate(names)}, "label")

    def unknown_labels(self, ds, names: list[str]) -> list[str]:
        return [n for n in ds.features["label"].names if n not in names]

    def check_train(self, train, names: list[str]) -> list[str]:
        """At least two classes, and not one class per row or two (an id or free-text column taken for labels)."""
        classes = train.unique("label")
        if len(names) > 100 and len(names) > len(train) / 2:
            raise ConfigError(f"data.label_column: {len(names)} distinct labels for {len(train)} training samples (under "
                              "two samples a class): this looks like an id or text column, not class labels; name the "
                              "label column with data.label_column")
        if len(classes) < 2:
            raise ConfigError(f"data.label_column: the training set has one class ({names[classes[0]]!r}); a "
                              "classifier needs at least two")
        return []

    def eval_warnings(self, train, evals: dict, names: list[str]) -> list[str]:
        """One line per eval set holding classes the training set has no sample of: the model cannot learn them."""
        seen = set(train.unique("label"))
        lines = []
        for split, ds in evals.items():
            counts = Counter(y for y in ds["label"] if y not in seen)
            if counts:
                listed = ", ".join(f"{names[y]!r} ({n})" for y, n in sorted(counts.items()))
                lines.append(f"classes never seen in training, so never learned: {listed} of the {len(ds)} {split!r} "
                             "samples; their recall is 0 by construction")
        return lines

    def fit(self, labels, names: list[str], cfg, device=None) -> None:
        t = cfg.train
        self.fitted = {"weight": class_weight_tensor(t.class_weights, labels, len(names), device=device),
                       "smoothing": t.label_smoothing}

    def loss(self, outputs, labels):
        import torch.nn.functional as F

        return F.cross_entropy(outputs.float(), labels, weight=self.fitted.get("weight"),
                               label_smoothing=self.fitted.get("smoothing", 0.0))

    def soft_loss(self, outputs, soft_targets):
        import torch
        import torch.nn.functional as F

        return torch.sum(-soft_targets * F.log_softmax(outputs.float(), -1), -1).mean()

    def distill_loss(self, student, teacher, temperature: float):
        """T^2 KL(softmax(teacher / T) || softmax(student / T)) (Hinton et al. 2015)."""
        import torch.nn.functional as F

        t = temperature
        kl = F.kl_div(F.log_softmax(student.float() / t, -1), F.log_softmax(teacher.float() / t, -1), log_target=True,
                      reduction="batchmean")
        return t * t * kl

    def class_weights(self, setting, labels, names: list[str]):
        return resolve_class_weights(setting, labels, len(names))

    def scores(self, outputs: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
        import torch
        import torch.nn.functional as F

        z, y = torch.as_tensor(np.asarray(outputs)).float(), torch.as_tensor(np.asarray(labels))
        scores = classification_metrics(z.argmax(1).tolist(), y.tolist(), names)
        scores["loss"] = float(F.cross_entropy(z, y, reduction="none").mean())
        return scores

    def stored(self, outputs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(outputs).argmax(-1).astype(np.int32), np.asarray(labels).astype(np.int32)

    linear_grid = (0.01, 0.1, 1.0, 10.0, 100.0)  # C, each tried on validation (1 without one)
    linear_name = "LogisticRegression(C={strength:g}, class_weight={class_weights})"

    def fit_linear(self, x, y, strength, class_weights, names, seed):
        from sklearn.linear_model import LogisticRegression

        from .class_weights import sklearn_class_weight

        weight = sklearn_class_weight(class_weights, list(y), len(names))
        return LogisticRegression(C=strength, max_iter=3000, class_weight=weight, random_state=seed).fit(x, y)

    def linear_outputs(self, model, x) -> np.ndarray:
        """Log-probabilities over every class (a class absent from training: log 1e-12, not -inf)."""
        classes = model.classes_ if hasattr(model, "classes_") else model[-1].classes_
        proba = np.zeros((x.shape[0], int(np.max(classes)) + 1 if len(classes) else 0))
        proba[:, classes] = model.predict_proba(x)
        return np.log(np.clip(proba, 1e-12, None))

    def linear_head(self, model, names):
        """Multinomial weights per class; binary: one score for the second class (the first's 0); a class never
        seen in training gets a bias of -1e4, so it is never predicted."""
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1 and len(model.classes_) == 2:
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
        weight, bias = np.zeros((len(names), coef.shape[1])), np.full(len(names), -1e4)
        weight[model.classes_], bias[model.classes_] = coef, intercept
        return weight, bias

    def warnings(self, final: dict, names: list[str], settings: dict) -> list[str]:
        advice = collapse_advice(settings.get("class_weights"), settings.get("lr"), settings.get("min_steps")) \
            if settings else ""  # a saved model scored on other data: nothing to change in its training
        return collapse_warnings(final, names, advice)

    def calibrate(self, cfg, outputs, final, features=None, in_domain=None, keep=None):
        from .temperature import calibrate

        return calibrate(cfg, outputs, final, features, in_domain, keep=keep)

    def output_affine(self, entry: dict):
        return {"divide": entry["temperature"]}

    def saved_state(self, entry: dict) -> dict | None:
        return None  # the default task: a saved model without task.json is one of these

    def predictions(self, outputs: np.ndarray, names: list[str]) -> list[dict]:
        p = _probabilities(outputs)
        return [{"label": names[int(row.argmax())], "score": float(row.max()),
                 "probabilities": dict(zip(names, map(float, row)))} for row in p]

    def columns(self, outputs: np.ndarray, names: list[str], top_k: int = 3, abstain_below: float | None = None,
                **options) -> dict:
        p = _probabilities(outputs)
        scored = ~np.isnan(p[:, 0])
        order = np.argsort(-np.nan_to_num(p, nan=0.0), axis=1)[:, :max(1, min(top_k, len(names)))]
        cols = {"label": [names[o[0]] if ok else "" for o, ok in zip(order, scored)],
                "score": p[np.arange(len(p)), order[:, 0]]}
        if abstain_below is not None:
            cols["abstained"] = cols["score"] < abstain_below
            cols["label"] = ["" if a else label for label, a in zip(cols["label"], cols["abstained"])]
        cols["top_k"] = [" | ".join(f"{names[i]} {p[r, i]:.4f}" for i in o) if scored[r] else ""
                         for r, o in enumerate(order)]
        cols.update({f"p_{name}": p[:, i] for i, name in enumerate(names)})
        return cols

    def trust_lines(self, calibration: dict) -> list[str] | None:
        return None  # the class-probability section (reports/calibration_report.py), with its figures

    def calibration_scores(self, outputs: np.ndarray, labels) -> dict:
        from .. import calibration

        return calibration.scores(_log_probabilities(outputs), labels)


def _log_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Log-probabilities (float32, numpy: an ONNX export predicts without PyTorch) of logits or of log-probabilities
    (log-softmax is idempotent); NaN rows (inputs not scored) stay NaN."""
    z = np.asarray(outputs, dtype=np.float32)
    top = np.max(z, axis=-1, keepdims=True)
    return z - top - np.log(np.sum(np.exp(z - top), axis=-1, keepdims=True))


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    return np.exp(_log_probabilities(outputs))


# -- the label column as classes: whole numbers, stray spaces, ids with gaps ----------------------------------

def _label_values(dd: datasets.DatasetDict) -> list:
    return sorted({v for split in dd.values() for v in split.unique("label") if v is not None and v != -1})


def _check_label_names(names: list[str]) -> None:
    """Class names go into tables (report, card): a newline or tab in one is refused."""
    bad = [n for n in names if any(c in str(n) for c in "\n\r\t")]
    if bad:
        raise ConfigError(f"data.label_column: the class name {bad[0]!r} holds a newline or tab; class names must be "
                          "one line: clean the label column")


def _whole_numbers(dd: datasets.DatasetDict, values: list) -> datasets.DatasetDict:
    """Float labels that are whole numbers (1.0, 2.0, as a csv writes class ids) become integers; others are refused."""
    broken = [v for v in values if not float(v).is_integer()]
    if broken:
        raise ConfigError(f"data.label_column: the labels are numbers that are not whole ({', '.join(map(str, broken[:3]))}"
                          f"{', ...' if len(broken) > 3 else ''}); class labels must be names or whole numbers (a number "
                          "to predict: task regression, --task regression)")
    log.info("label: whole-number float labels (%s) read as integer classes", ", ".join(map(str, values[:5])))
    return dd.cast_column("label", datasets.Value("int64"))


def _stripped(dd: datasets.DatasetDict, values: list) -> datasets.DatasetDict:
    """String labels without the spaces around them: 'pos' and 'pos ' are one class (said in a warning)."""
    merged = sorted({v.strip() for v in values if v != v.strip() and v.strip() in values})
    if merged:
        log.warning("label: labels that differ only by spaces around them are one class: %s",
                    ", ".join(repr(m) for m in merged))
    return dd.map(lambda y: {"label": y.strip() if isinstance(y, str) else y}, input_columns="label")


def _as_class_labels(dd: datasets.DatasetDict) -> datasets.DatasetDict:
    """Make `label` a ClassLabel, with one mapping shared by every split."""
    feature = next(iter(dd.values())).features["label"]
    if isinstance(feature, datasets.ClassLabel):
        _check_label_names(feature.names)
        return dd
    values = _label_values(dd)
    if values and all(isinstance(v, float) for v in values):
        dd = _whole_numbers(dd, values)
        values = _label_values(dd)
    elif values and all(isinstance(v, str) for v in values) and any(v != v.strip() for v in values):
        dd = _stripped(dd, values)
        values = _label_values(dd)
    _check_label_names([str(v) for v in values])
    if all(isinstance(v, int) for v in values) and values != list(range(len(values))):
        # ids with gaps (1, 5, 10, 1000): one class per distinct value, named by it
        ids = {v: i for i, v in enumerate(values)}
        log.info("label: the %d distinct integer labels (%s) become class ids 0-%d, named by their value", len(values),
                 ", ".join(map(str, values[:8])) + (", ..." if len(values) > 8 else ""), len(values) - 1)
        dd = dd.map(lambda y: {"label": ids.get(y, -1)}, input_columns="label")
    return dd.cast_column("label", datasets.ClassLabel(names=[str(v) for v in values]))
