"""Classification metrics as an `evaluate` metric that needs no Hub access.

`evaluate.load("accuracy")` fetches its script from the Hub, which fails offline (evaluate issues
315, 473, 567). `ClassificationMetrics` is an `evaluate.Metric` defined here, so it is used the
evaluate way (``add_batch`` / ``compute``, `evaluate.combine`) with no network, and computes
everything a transfer report needs in one pass, with scikit-learn like evaluate's own metrics:
accuracy, macro and weighted F1, macro precision and recall, per-class F1 and the confusion matrix.
Labels of -1 (unlabelled) are never scored. Macro averages run over the classes present in the split's
labels or predictions (scikit-learn's default), so a split that lacks a class is not marked down for it;
`absent_classes` names those classes, and the per-class scores keep every class.

Predictions are gathered across processes by the training loop (accelerate's
``gather_for_metrics``, which drops the samples repeated to even out the last batch), so every
evaluation sample is counted exactly once.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

_DESCRIPTION = "Accuracy, macro/weighted F1, macro precision/recall, per-class F1 and the confusion matrix."


class ClassificationMetrics(evaluate.Metric):
    """`compute(predictions, references, num_classes=..., label_names=...)` -> dict of scores."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description="predictions and references: lists of class ids; num_classes: int; label_names: list",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/model_evaluation.html"],
        )

    def _compute(self, predictions, references, num_classes: int | None = None, label_names=None):
        preds, refs = np.asarray(predictions, dtype=np.int64), np.asarray(references, dtype=np.int64)
        keep = refs >= 0
        preds, refs = preds[keep], refs[keep]
        if num_classes is None:
            num_classes = len(label_names) if label_names else int(max(preds.max(initial=0), refs.max(initial=0)) + 1)
        labels = list(range(num_classes))
        names = list(label_names) if label_names else [str(i) for i in labels]
        if len(refs) == 0:
            return {"num_samples": 0}
        per_class = f1_score(refs, preds, labels=labels, average=None, zero_division=0)
        # the averages run over the classes present in the labels or the predictions (scikit-learn's default):
        # a class a split has no sample of, and that is never predicted, has no F1 to average
        seen = set(refs.tolist())
        present = sorted(seen | set(preds.tolist()))
        scores = {
            "num_samples": int(len(refs)),
            "accuracy": float((preds == refs).mean()),
            "f1_macro": float(f1_score(refs, preds, labels=present, average="macro", zero_division=0)),
            "f1_weighted": float(f1_score(refs, preds, labels=present, average="weighted", zero_division=0)),
            "precision_macro": float(precision_score(refs, preds, labels=present, average="macro", zero_division=0)),
            "recall_macro": float(recall_score(refs, preds, labels=present, average="macro", zero_division=0)),
            "per_class_f1": {n: float(v) for n, v in zip(names, per_class)},
            "confusion_matrix": confusion_matrix(refs, preds, labels=labels).tolist(),
        }
        absent = [names[i] for i in labels if i not in seen]
        if absent:
            scores["absent_classes"] = absent  # no sample of these in the split: their per-class F1 means nothing
        return scores


def classification_metrics(predictions, references, label_names: list[str]) -> dict:
    """One-shot helper over `ClassificationMetrics`."""
    metric = ClassificationMetrics(keep_in_memory=True)
    return metric.compute(predictions=list(map(int, predictions)), references=list(map(int, references)),
                          num_classes=len(label_names), label_names=list(label_names))


def scores_from_log_probabilities(log_p, labels, label_names: list[str]) -> dict:
    """The metrics of an eval set (accuracy, F1s, per class) and its loss, from (rows, classes) log-probabilities
    and the true class ids: what a fitted baseline and `hf-transfer evaluate` report."""
    import numpy as np

    labels = np.asarray(labels)
    scores = classification_metrics(log_p.argmax(1).tolist(), labels.tolist(), label_names)
    scores["loss"] = float(-log_p[np.arange(len(labels)), labels].mean())
    return scores


def proxy_a_distance(source_features, target_features, seed: int = 0) -> float:
    """Proxy A-distance (Ben-David et al. 2007; Ganin et al. 2016): 2 * (1 - 2 * err).

    A linear domain classifier (logistic regression on standardised features) is trained on half of
    an equal number of source and target samples and tested on the other half; err is its test
    error. 0: the domains cannot be told apart from these features; 2: perfectly separable.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    xs, xt = np.asarray(source_features, dtype=np.float64), np.asarray(target_features, dtype=np.float64)
    n = min(len(xs), len(xt))
    if n < 4:
        return float("nan")
    x = np.concatenate([xs[rng.permutation(len(xs))[:n]], xt[rng.permutation(len(xt))[:n]]])
    y = np.r_[np.ones(n), np.zeros(n)]
    x_fit, x_test, y_fit, y_test = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(x_fit, y_fit)
    err = 1.0 - clf.score(x_test, y_test)
    return float(2.0 * (1.0 - 2.0 * err))


def collapse(scores: dict, label_names: list[str], share: float = 0.95) -> str | None:
    """A one-line warning when a model predicts one class for (almost) everything (at least `share` of
    the predictions) although the labels are not that one class (less than `share` of them); else None."""
    matrix = np.asarray(scores.get("confusion_matrix") or [[0]])
    total = matrix.sum()
    if total == 0 or len(matrix) < 2:
        return None
    predicted, true = matrix.sum(0), matrix.sum(1)
    top = int(predicted.argmax())
    if predicted[top] < share * total or true[top] >= share * total:
        return None
    which = "the majority class" if top == int(true.argmax()) else "one class"
    return (f"collapsed to {which} ({label_names[top]!r} for {predicted[top] / total:.0%} of the predictions, "
            f"{true[top] / total:.0%} of the labels): macro-F1 {scores['f1_macro']:.4f}")


def collapse_warnings(final: dict, label_names: list[str], advice: str = "") -> list[str]:
    """`collapse` on every evaluation set of a run, as '<set>: collapsed to ...' (followed by `advice`, what to
    try), and a line for every set that lacks classes."""
    found = ((name, collapse(scores, label_names)) for name, scores in final.items())
    tail = f"; to try: {advice}" if advice else ""
    return [f"{name}: {why}{tail}" for name, why in found if why] + absent_class_warnings(final)


def collapse_advice(class_weights, lr: float | None = None, min_steps: int | None = None) -> str:
    """The settings that most often undo a collapse, as the exact command-line lines: balanced class weights
    (when none are set), a third of the learning rate, and a floor of optimizer steps (a loop run)."""
    tries = [] if class_weights is not None else ["--set train.class_weights=balanced"]
    if lr is not None:
        tries.append(f"--set train.lr={lr / 3:.2g}")
        if not min_steps:
            tries.append("--set train.min_steps=300")
    return ", ".join(f"`{t}`" for t in tries)


def absent_class_warnings(final: dict) -> list[str]:
    """'<set>: has no sample of ...' for every evaluation set that lacks classes."""
    return [f"{name}: has no sample of {', '.join(map(repr, scores['absent_classes']))}; its macro scores average "
            "over the classes present in its labels or predictions" for name, scores in final.items()
            if scores.get("absent_classes")]
