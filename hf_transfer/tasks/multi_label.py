"""Any number of labels per row (`multi_label`): tags read from a column of lists (a Hub `Sequence(ClassLabel)`),
of strings joined by a separator (`data.label_separator`, found when unambiguous), or from several 0/1 columns
(`data.label_columns`). One sigmoid output per label; BCE-with-logits, with per-label positive weights under
train.class_weights auto/balanced; micro-, macro- and samples-F1, mAP, subset accuracy, Hamming loss and per-label
scores; one shared temperature and a decision threshold per label, both fitted on validation (0.5 without one).

A row with no labels is allowed: every label is a negative for it; its samples-F1 is 1 when nothing is predicted
for it and 0 otherwise.
"""

from __future__ import annotations

import logging
import math
import re

import datasets
import numpy as np

from ..errors import ConfigError, UserError
from .task import Task, register_task

log = logging.getLogger(__name__)

SEPARATORS = (";", "|", ",")  # tried, in this order, on a column of strings
MAX_WEIGHT = 50.0  # a label's positive weight: negatives / positives, at most this
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)  # the decision thresholds tried on validation


def _split(value, separator: str) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [part.strip() for part in str(value).split(separator) if part.strip()]


def _separator(values: list, data_cfg) -> str | None:
    """The separator of a column of strings: data.label_separator, or the one separator found in the values when
    the labels it joins recur (a part in at least two distinct values, as 'billing' in 'billing;refund' and
    'billing;bug'); a one-line refusal when several separators are mixed."""
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]  # empty cells
    strings = [v for v in values if isinstance(v, str)]
    if data_cfg.label_separator or not strings or len(strings) < len(values):
        return data_cfg.label_separator if strings else None
    found = [s for s in SEPARATORS if any(s in v for v in strings)]
    if not found:
        return None
    pattern = "|".join(map(re.escape, found))
    seen: dict[str, set] = {}
    for v in set(strings):
        for part in re.split(pattern, v):
            if part.strip():
                seen.setdefault(part.strip(), set()).add(v)
    if not any(len(where) > 1 for where in seen.values()) or max(map(len, seen)) > 40:
        return None  # nothing recurs (or the parts are sentences): names that happen to hold the character
    if len(found) > 1:
        raise ConfigError(f"data.label_separator: the label column mixes separators ({' '.join(map(repr, found))}); "
                          "give the one that joins the labels with --label-separator, or clean the column")
    return found[0]


@register_task("multi_label")
class MultiLabel(Task):
    metric_for_best = "f1_micro"
    best_metrics = ("f1_micro", "f1_macro", "f1_samples", "map", "subset_accuracy", "loss")
    headline = (("map", "mAP", "mAP"), ("f1_micro", "micro-F1", "F1"))
    table = (("f1_micro", "micro-F1"), ("f1_macro", "macro-F1"), ("f1_samples", "samples-F1"), ("map", "mAP"),
             ("subset_accuracy", "subset accuracy"), ("hamming_loss", "Hamming loss"), ("loss", "loss"))
    problem_type = "multi_label_classification"
    soft_targets = True  # mixup, CutMix and smoothing mix the 0/1 targets; BCE takes them as they are
    card_metrics = (("f1_micro", "F1 (micro)"), ("f1_macro", "F1 (macro)"), ("f1_samples", "F1 (samples)"),
                    ("map", "mAP"))
    noun = "multi-label classifier"
    names_title = "Labels"

    def summary(self, labels: list, names: list[str]) -> str:
        counts = np.zeros(len(names), dtype=int)
        for row in labels:
            counts[list(row)] += 1
        shares = ", ".join(f"{names[i]} {100 * counts[i] / max(len(labels), 1):.0f} %" for i in np.argsort(-counts)[:8])
        empty = sum(1 for row in labels if not row)
        return (f"{len(names)} labels, each in a share of the rows ({shares}{', ...' if len(names) > 8 else ''})"
                + (f", {empty} rows with none" if empty else ""))

    def weights_note(self, labels: list, names: list[str]) -> str | None:
        return f"a positive weight per label (its negatives / positives, 1 to {MAX_WEIGHT:g})"

    def purpose(self, things: str, names: list[str]) -> str:
        return (f"tags {things} with any number of the {len(names)} labels above (each label's probability against "
                "its own threshold, chosen on validation)")

    @classmethod
    def from_saved(cls, state: dict, path) -> Task:
        t = state.get("thresholds")
        if t is not None and not (isinstance(t, list) and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in t)):
            raise UserError(f"model: {path}: thresholds must be a list of numbers in [0, 1]; the folder was changed")
        return cls(state)

    @classmethod
    def claims(cls, values: list, feature, data_cfg) -> str | None:
        if data_cfg.label_columns:
            return f"{len(data_cfg.label_columns)} label columns of 0/1 (--label-columns)"
        if isinstance(feature, (datasets.Sequence, list)) or any(isinstance(v, list) for v in values[:100]):
            return "the label column holds lists"
        separator = _separator(values, data_cfg)
        if separator:
            return f"labels joined by {separator!r}" + ("" if data_cfg.label_separator else ", found in the data")
        return None

    # -- data ------------------------------------------------------------------------------------
    def prepare(self, dd, data_cfg, column: str):
        feature = next(iter(dd.values())).features["label"]
        inner = getattr(feature, "feature", None)
        if isinstance(inner, datasets.ClassLabel):
            self.names = list(inner.names)
            return dd, self.names
        values = [v for split in dd.values() for v in split["label"]]
        separator = None if any(isinstance(v, list) for v in values) else _separator(values, data_cfg) or ";"

        def tags(v):
            return [str(t).strip() for t in v if str(t).strip()] if isinstance(v, list) else _split(v, separator)

        names = sorted({t for v in values for t in tags(v)})
        if not names:
            raise ConfigError("data.label_column: no row has a label")
        index = {n: i for i, n in enumerate(names)}
        ids = datasets.Sequence(datasets.ClassLabel(names=names))
        dd = dd.map(lambda y: {"label": [index[t] for t in dict.fromkeys(tags(y))]}, input_columns="label",
                    features=None, desc="Labels")
        self.names = names
        return dd.cast_column("label", ids), names

    def unknown_labels(self, ds, names: list[str]) -> list[str]:
        return [n for n in ds.features["label"].feature.names if n not in names]

    def align(self, ds, names: list[str], key: str, subset: bool = False):
        own = list(ds.features["label"].feature.names)
        if own == list(names):
            return ds
        unknown = [n for n in own if n not in names]
        if unknown:
            raise ConfigError(f"{key}: labels the training data never has: {', '.join(unknown[:10])} (the training "
                              f"labels: {', '.join(names)})")
        index = {i: names.index(n) for i, n in enumerate(own)}
        ds = ds.map(lambda y: {"label": [index[i] for i in y]}, input_columns="label", desc="Labels")
        return ds.cast_column("label", datasets.Sequence(datasets.ClassLabel(names=list(names))))

    def model_labels(self, ds):
        if "label" not in ds.column_names:  # inputs to predict
            return ds
        k = len(ds.features["label"].feature.names)

        def hot(y):
            row = [0.0] * k
            for i in y:
                row[i] = 1.0
            return {"label": row}

        return ds.map(hot, input_columns="label", desc="Labels",
                      features=datasets.Features({**ds.features, "label": datasets.Sequence(datasets.Value("float32"),
                                                                                             length=k)}))

    def check_train(self, train, names: list[str]) -> list[str]:
        y = np.asarray(self.model_labels(train)["label"])
        never = [n for n, count in zip(names, y.sum(0)) if count == 0]
        empty = int((y.sum(1) == 0).sum())
        warnings = []
        if never:
            warnings.append(f"labels never positive in the training rows, so never learned: {', '.join(never)}")
        if empty:
            log.info("label: %d of the %d training rows have no label (every label a negative for them)", empty, len(y))
        return warnings

    # -- training --------------------------------------------------------------------------------
    def fit(self, labels, names: list[str], cfg, device=None) -> None:
        if cfg.train.label_smoothing:
            raise ConfigError("train.label_smoothing: smooths one class per row; task multi_label has none (set 0)")
        self.fitted = {"pos_weight": self._pos_weight(cfg.train.class_weights, labels, names, device)}

    def _pos_weight(self, setting, labels, names, device):
        import torch

        y = np.asarray(labels, dtype=np.float64)
        if setting is None:
            return None
        if isinstance(setting, list):
            if len(setting) != len(names):
                raise ConfigError(f"train.class_weights: {len(setting)} weights for {len(names)} labels")
            return torch.tensor(setting, dtype=torch.float, device=device)
        positives = y.sum(0)
        weight = np.where(positives > 0, (len(y) - positives) / np.maximum(positives, 1), 1.0)
        return torch.tensor(np.clip(weight, 1.0, MAX_WEIGHT), dtype=torch.float, device=device)

    def class_weights(self, setting, labels, names: list[str]):
        weight = self._pos_weight(setting, labels, names, None)
        return None if weight is None else {"positive_weights": dict(zip(names, map(float, weight)))}

    def loss(self, outputs, labels):
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(outputs.float(), labels.float(), pos_weight=self.fitted.get("pos_weight"))

    def soft_loss(self, outputs, soft_targets):
        return self.loss(outputs, soft_targets)

    def distill_loss(self, student, teacher, temperature: float):
        """T^2 BCE of the student's sigmoid(outputs / T) against the teacher's, label by label."""
        import torch
        import torch.nn.functional as F

        t = temperature
        return t * t * F.binary_cross_entropy_with_logits(student.float() / t, torch.sigmoid(teacher.float() / t))

    # -- scoring ---------------------------------------------------------------------------------
    def thresholds(self, k: int) -> np.ndarray:
        return np.asarray(self.saved.get("thresholds") or [0.5] * k, dtype=np.float64)

    def scores(self, outputs: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
        return scores(_sigmoid(outputs), np.asarray(labels), names, self.thresholds(len(names)),
                      loss=_bce(outputs, labels))

    def stored(self, outputs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        predicted = _sigmoid(outputs) >= self.thresholds(np.asarray(outputs).shape[1])
        return predicted.astype(np.int8), np.asarray(labels).astype(np.int8)

    def calibration_scores(self, outputs, labels) -> dict:
        return label_calibration(_sigmoid(outputs), np.asarray(labels))

    linear_grid = (0.01, 0.1, 1.0, 10.0, 100.0)  # C, as single_label's
    linear_name = "one LogisticRegression(C={strength:g}) per label, positive weights {class_weights}"

    def fit_linear(self, x, y, strength, class_weights, names, seed):
        """One logistic regression per label (its positive weight as the loss's); a label that is constant in
        the training rows: its log-odds there, with no weight on the features."""
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y) > 0.5
        weights = self._pos_weight(class_weights, y, names, None)
        coef, intercept = np.zeros((len(names), x.shape[1])), np.zeros(len(names))
        for k in range(len(names)):
            if y[:, k].all() or not y[:, k].any():
                intercept[k] = 10.0 if y[:, k].all() else -10.0
                continue
            one = LogisticRegression(C=strength, max_iter=3000, random_state=seed,
                                     class_weight={0: 1.0, 1: float(weights[k])} if weights is not None else None)
            one.fit(x, y[:, k])
            coef[k], intercept[k] = one.coef_[0], one.intercept_[0]
        return _linear(coef, intercept)

    def warnings(self, final: dict, names: list[str], settings: dict) -> list[str]:
        return [f"{name}: no label is ever predicted (every probability below its threshold)"
                for name, m in final.items() if m.get("num_samples") and m.get("predicted_positive") == 0]

    # -- trust and saving ------------------------------------------------------------------------
    def calibrate(self, cfg, outputs, final, features=None, in_domain=None, keep=None):
        names, k, note = self.names, len(self.names), None
        scale, shift, method = np.ones(k), np.zeros(k), "none"
        if "validation" not in outputs:
            note = "no validation split: nothing fitted, and every threshold 0.5"
        elif cfg.train.calibrate == "temperature" and cfg.train.label_calibration == "per_label":
            (scale, shift), method = fit_platt(*outputs["validation"]), "platt_per_label"
        elif cfg.train.calibrate == "temperature":
            scale, method = fit_platt(*outputs["validation"], shared=True)[0], "temperature"
        scaled = {name: (np.asarray(z) * scale + shift, y) for name, (z, y) in outputs.items()}
        if "validation" in scaled:
            self.saved["thresholds"] = choose_thresholds(_sigmoid(scaled["validation"][0]), scaled["validation"][1])
        sets, final = {}, {k: dict(v) for k, v in final.items()}
        for name, (z, y) in scaled.items():
            before = label_calibration(_sigmoid(outputs[name][0]), y)
            after = label_calibration(_sigmoid(z), y)
            sets[name] = {"before": before, "after": after}
            if name in final:
                final[name] = {**self.scores(z, y, names), "calibration": after}
        entry = {"method": method, "scale": dict(zip(names, scale.tolist())), "shift": dict(zip(names, shift.tolist())),
                 "temperature": float(1.0 / scale[0]) if method == "temperature" else None,
                 "fitted_on": "validation" if method != "none" else None,
                 "thresholds": dict(zip(names, self.thresholds(len(names)).tolist())),
                 "thresholds_chosen_on": "validation" if "validation" in outputs else None, "sets": sets}
        if note:
            entry["note"] = note
        return final, entry

    def trust_lines(self, calibration: dict) -> list[str] | None:
        md = _md
        how = {"platt_per_label": "A scale and a bias per label (Platt scaling), fitted on the validation split (BCE) and "
                                  "folded into the saved model; ",
               "temperature": f"One temperature for every label, T = {calibration.get('temperature') or 1:.3f}, fitted "
                              "on the validation split (BCE) and folded into the saved model; "}
        lines = ["", "## Calibration", "", how.get(calibration["method"], "Nothing fitted (" + calibration.get(
                 "note", "train.calibrate: none") + "); ") + "ECE: each label's probability against its 0/1 outcome "
                 "over 15 equal-mass bins, averaged over labels.",
                 "", "| eval set | ECE before | ECE after | Brier after |", "|---|---:|---:|---:|"]
        lines += [f"| {md(name)} | {s['before']['ece']:.4f} | {s['after']['ece']:.4f} | {s['after']['brier']:.4f} |"
                  for name, s in calibration.get("sets", {}).items()]
        return lines

    def output_affine(self, entry: dict):
        return {"scale": list(entry["scale"].values()), "shift": list(entry["shift"].values())}

    def saved_state(self, entry: dict) -> dict | None:
        return {"task": self.name, "thresholds": self.thresholds(len(entry["thresholds"])).tolist()}

    # -- prediction ------------------------------------------------------------------------------
    def predictions(self, outputs: np.ndarray, names: list[str]) -> list[dict]:
        p, t = _sigmoid(outputs), self.thresholds(len(names))
        return [{"labels": [n for n, v, c in zip(names, row, t) if v >= c],
                 "probabilities": dict(zip(names, map(float, row)))} for row in p]

    def columns(self, outputs: np.ndarray, names: list[str], top_k: int = 3, **options) -> dict:
        p, t = _sigmoid(outputs), self.thresholds(len(names))
        scored = ~np.isnan(p[:, 0])
        cols = {"labels": [";".join(n for n, v, c in zip(names, row, t) if v >= c) if ok else ""
                           for row, ok in zip(p, scored)]}
        cols.update({f"p_{name}": p[:, i] for i, name in enumerate(names)})
        return cols


def _linear(coef: np.ndarray, intercept: np.ndarray):
    """A fitted linear model of these weights (scikit-learn's LogisticRegression as the container: its
    decision_function is X coef^T + intercept)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression()
    model.coef_, model.intercept_, model.classes_ = coef, intercept, np.arange(len(intercept))
    return model


def _md(text) -> str:
    """A name safe in a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _sigmoid(outputs) -> np.ndarray:
    import torch

    return torch.sigmoid(torch.as_tensor(np.asarray(outputs), dtype=torch.float64)).numpy()


def _bce(outputs, labels) -> float:
    import torch
    import torch.nn.functional as F

    return float(F.binary_cross_entropy_with_logits(torch.as_tensor(np.asarray(outputs), dtype=torch.float64),
                                                    torch.as_tensor(np.asarray(labels), dtype=torch.float64)))


def scores(p: np.ndarray, y: np.ndarray, names: list[str], thresholds: np.ndarray, loss: float | None = None) -> dict:
    """The multi-label metrics of probabilities `p` against 0/1 labels `y` (rows, labels) at `thresholds`."""
    from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support

    y = y.astype(int)
    pred = (p >= thresholds).astype(int)
    if len(y) == 0:
        return {"num_samples": 0}
    present = [i for i in range(y.shape[1]) if y[:, i].any() or pred[:, i].any()]
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0,
                                                                     labels=list(range(y.shape[1])))
    both = (pred & y).sum(1)
    row_f1 = np.where(pred.sum(1) + y.sum(1) == 0, 1.0, 2 * both / np.maximum(pred.sum(1) + y.sum(1), 1))
    positive = [i for i in range(y.shape[1]) if y[:, i].any()]
    out = {"num_samples": int(len(y)),
           "f1_micro": float(f1_score(y, pred, average="micro", zero_division=0)),
           "f1_macro": float(np.mean(f1[present])) if present else 0.0,
           "f1_samples": float(row_f1.mean()),
           "map": float(np.mean([average_precision_score(y[:, i], p[:, i]) for i in positive])) if positive else 0.0,
           "subset_accuracy": float((pred == y).all(1).mean()),
           "hamming_loss": float((pred != y).mean()),
           "predicted_positive": int(pred.sum()),
           "per_class_f1": {n: float(v) for n, v in zip(names, f1)},
           "per_label": {n: {"f1": float(f1[i]), "precision": float(precision[i]), "recall": float(recall[i]),
                             "support": int(support[i])} for i, n in enumerate(names)}}
    absent = [names[i] for i in range(y.shape[1]) if not y[:, i].any()]
    if absent:
        out["absent_classes"] = absent
    if loss is not None:
        out["loss"] = loss
    return out


def label_calibration(p: np.ndarray, y: np.ndarray) -> dict:
    """ECE of each label's probability (equal-mass bins) and their mean; the mean Brier score."""
    from .. import calibration

    per = [calibration.binary_ece(p[:, i], y[:, i]) for i in range(p.shape[1])]
    return {"ece": float(np.mean(per)), "ece_per_label": per, "brier": float(((p - y) ** 2).mean())}


def fit_platt(logits, labels, shared: bool = False, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) per label minimising the BCE of sigmoid(scale * logits + shift) on validation (Platt scaling;
    LBFGS, the scale kept positive so that no label's ranking changes, within 1/20 to 20); a label constant in these
    rows keeps (1, 0). `shared`: one scale for every label and no shift (temperature scaling, T = 1 / scale)."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.float64)
    k = x.shape[1]
    log_a = torch.zeros(() if shared else k, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=not shared)
    optimizer = torch.optim.LBFGS([log_a] if shared else [log_a, b], lr=0.1, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x * log_a.exp() + b, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    scale = np.clip(np.broadcast_to(log_a.detach().exp().numpy(), (k,)), 1 / 20.0, 20.0)
    if shared:
        return scale, np.zeros(k)
    varies = (y.min(0).values != y.max(0).values).numpy()
    return np.where(varies, scale, 1.0), np.where(varies, b.detach().numpy(), 0.0)


def choose_thresholds(p: np.ndarray, y: np.ndarray) -> list[float]:
    """Per label, the threshold of THRESHOLDS with the best F1 on these (validation) rows; 0.5 for a label with no
    positive row (nothing to choose on)."""
    chosen = []
    for i in range(p.shape[1]):
        if not y[:, i].any():
            chosen.append(0.5)
            continue
        f1 = [2 * ((p[:, i] >= t) & (y[:, i] > 0)).sum() / max((p[:, i] >= t).sum() + y[:, i].sum(), 1) for t in THRESHOLDS]
        chosen.append(float(THRESHOLDS[int(np.argmax(f1))]))
    return chosen
