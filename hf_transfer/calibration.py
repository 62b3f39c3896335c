"""How far to trust a prediction: calibration, selective prediction and out-of-distribution scores.

* Expected calibration error (ECE) with 15 bins of equal mass (each holds the same number of predictions, so
  no bin is nearly empty; the headline number), and with 15 bins of equal width (torchmetrics'
  `multiclass_calibration_error`, the number most papers quote); negative log-likelihood; the multi-class
  Brier score (mean over rows of the squared distance between the probabilities and the one-hot label).
* Temperature scaling (Guo et al. 2017, https://arxiv.org/abs/1706.04599): one scalar T > 0 fitted on the
  validation split by LBFGS on the NLL of logits / T. Dividing every logit by the same T changes no argmax, so
  accuracy and F1 are unchanged by construction; the saved model carries it folded into its last layer.
* Selective prediction: the accuracy of the most confident x % of the predictions (risk-coverage curve).
* Out-of-distribution detection: how well a score tells source test rows from target rows (AUROC): maximum
  softmax probability (Hendrycks & Gimpel 2017), energy (Liu et al. 2020), and the Mahalanobis distance of the
  features to the nearest class mean under a shared covariance (Lee et al. 2018).
"""

from __future__ import annotations

import numpy as np
import torch

BINS = 15
COVERAGES = (0.8, 0.9)


def _probabilities(logits) -> np.ndarray:
    return torch.softmax(torch.as_tensor(np.asarray(logits), dtype=torch.float64), -1).numpy()


def ece_equal_mass(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE over `bins` bins holding the same number of predictions (sorted by confidence)."""
    confidence = probs.max(1)
    return _ece_mass(confidence, (probs.argmax(1) == labels).astype(float), _mass_bins(confidence, bins))


def _mass_bins(confidence: np.ndarray, bins: int) -> list[np.ndarray]:
    """The row indices of each equal-mass bin, by ascending confidence."""
    order = np.argsort(confidence, kind="stable")
    return np.array_split(order, min(bins, len(order)))


def _ece_mass(confidence: np.ndarray, correct: np.ndarray, parts: list[np.ndarray]) -> float:
    total = sum(len(part) * abs(correct[part].mean() - confidence[part].mean()) for part in parts)
    return float(total / len(confidence))


def binary_ece(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """ECE of the probabilities `p` of one binary outcome `y` (0/1), over equal-mass bins of `p`."""
    p = np.asarray(p, dtype=np.float64)
    return _ece_mass(p, np.asarray(y, dtype=np.float64), _mass_bins(p, bins)) if len(p) else float("nan")


def ece_floor(probs: np.ndarray, bins: int = BINS, draws: int = 200, seed: int = 0) -> float:
    """The equal-mass ECE a perfectly calibrated model with these confidences would show on this many rows (each
    prediction right with probability its confidence; the mean over `draws` simulations): an ECE near it cannot be
    told from perfect calibration, so no method can be shown to lower it further on this set."""
    confidence = probs.max(1)
    parts, rng = _mass_bins(confidence, bins), np.random.default_rng(seed)  # the bins depend on confidence only
    return float(np.mean([_ece_mass(confidence, (rng.random(len(confidence)) < confidence).astype(float), parts)
                          for _ in range(draws)]))


def ece_equal_width(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE over `bins` bins of equal width in confidence (torchmetrics)."""
    from torchmetrics.functional.classification import multiclass_calibration_error

    return float(multiclass_calibration_error(torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(labels),
                                              num_classes=probs.shape[1], n_bins=bins, norm="l1"))


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    onehot = np.eye(probs.shape[1])[labels]
    return float(((probs - onehot) ** 2).sum(1).mean())


def nll(logits, labels: np.ndarray) -> float:
    return float(torch.nn.functional.cross_entropy(torch.as_tensor(np.asarray(logits), dtype=torch.float64),
                                                   torch.as_tensor(labels)))


def accuracy_at_coverage(probs: np.ndarray, labels: np.ndarray, coverage: float) -> float:
    """Accuracy of the `coverage` share of predictions made with the highest confidence."""
    keep = max(1, int(round(coverage * len(labels))))
    order = np.argsort(-probs.max(1), kind="stable")[:keep]
    return float((probs[order].argmax(1) == labels[order]).mean())


def risk_coverage(probs: np.ndarray, labels: np.ndarray, points: int = 20) -> list[list[float]]:
    """[[coverage, accuracy of the most confident rows at that coverage], ...] from 1/points to 1."""
    return [[round(c, 4), accuracy_at_coverage(probs, labels, c)] for c in np.linspace(1 / points, 1, points)]


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict:
    """Per equal-width confidence bin: mean confidence, accuracy and count (the reliability diagram)."""
    confidence, correct = probs.max(1), probs.argmax(1) == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = {"confidence": [], "accuracy": [], "count": []}
    for b in range(bins):
        mask = index == b
        rows["count"].append(int(mask.sum()))
        rows["confidence"].append(float(confidence[mask].mean()) if mask.any() else None)
        rows["accuracy"].append(float(correct[mask].mean()) if mask.any() else None)
    return rows


def scores(logits, labels) -> dict:
    """ECE (equal mass, its noise floor, and equal width), NLL, Brier, the median confidence (the top class's
    probability: near 1 / classes, a model that does not say what it thinks) and the accuracy at 80 % and 90 % coverage
    of one eval set."""
    labels = np.asarray(labels)
    probs = _probabilities(logits)
    return {"ece": ece_equal_mass(probs, labels), "ece_floor": ece_floor(probs),
            "median_confidence": float(np.median(probs.max(1))),
            "ece_equal_width": ece_equal_width(probs, labels),
            "nll": nll(logits, labels), "brier": brier(probs, labels),
            **{f"accuracy_at_{int(c * 100)}": accuracy_at_coverage(probs, labels, c) for c in COVERAGES}}


def curves(logits, labels) -> dict:
    """The reliability bins and the risk-coverage points of one eval set (for the report's figures)."""
    labels, probs = np.asarray(labels), _probabilities(logits)
    return {"reliability": reliability(probs, labels), "risk_coverage": risk_coverage(probs, labels)}


T_RANGE = (0.05, 20.0)  # a fitted temperature is kept within this range (a tiny validation set can push it out)


def fit_scaling(logits, labels, class_bias: bool = False, max_iter: int = 100,
                dtype: torch.dtype = torch.float64) -> tuple[float, torch.Tensor]:
    """(T, b) minimising the NLL of softmax(logits / T + b) on labelled logits: LBFGS on log T (and b). b stays 0
    without `class_bias`: temperature scaling; with it, bias-corrected temperature scaling (BCTS, Alexandari et al.
    2020, https://arxiv.org/abs/1901.06852), what label-shift estimation needs."""
    x = (logits if torch.is_tensor(logits) else torch.as_tensor(np.asarray(logits))).to(dtype)
    y = labels if torch.is_tensor(labels) else torch.as_tensor(np.asarray(labels))
    log_t = torch.zeros((), dtype=dtype, requires_grad=True)
    bias = torch.zeros(x.shape[1], dtype=dtype, requires_grad=class_bias)
    optimizer = torch.optim.LBFGS([log_t, bias] if class_bias else [log_t], lr=0.1, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp() + bias, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp()), bias.detach()


def fit_temperature(logits, labels, max_iter: int = 100) -> float:
    """The T > 0 minimising the NLL of softmax(logits / T) on (validation) logits, clipped to T_RANGE."""
    return float(np.clip(fit_scaling(logits, labels, max_iter=max_iter)[0], *T_RANGE))


def ood_auroc(source_logits, target_logits, source_features=None, target_features=None,
              fit_features=None, fit_labels=None) -> dict:
    """AUROC of telling target rows (positive) from source rows by each score, higher meaning "more likely
    from elsewhere": negative maximum softmax probability, energy (-logsumexp of the logits), and the
    Mahalanobis distance to the nearest class mean (class means and a shared Ledoit-Wolf covariance fitted on
    `fit_features`: source data the model was not tested on)."""
    from sklearn.metrics import roc_auc_score

    s, t = np.asarray(source_logits, dtype=np.float64), np.asarray(target_logits, dtype=np.float64)
    y = np.r_[np.zeros(len(s)), np.ones(len(t))]
    both = torch.as_tensor(np.concatenate([s, t]))
    out = {"msp": float(roc_auc_score(y, -torch.softmax(both, -1).max(-1).values.numpy())),
           "energy": float(roc_auc_score(y, -torch.logsumexp(both, -1).numpy()))}
    if source_features is not None and fit_features is not None and len(np.unique(fit_labels)) > 1:
        distance = mahalanobis(np.asarray(fit_features), np.asarray(fit_labels))
        out["mahalanobis"] = float(roc_auc_score(y, distance(np.concatenate([source_features, target_features]))))
    return out


def mahalanobis(features: np.ndarray, labels: np.ndarray):
    """distance(x) -> the squared Mahalanobis distance of each row of x to its nearest class mean."""
    from sklearn.covariance import LedoitWolf

    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(0) for c in classes])
    precision = LedoitWolf().fit(features - means[np.searchsorted(classes, labels)]).precision_

    def distance(x: np.ndarray) -> np.ndarray:
        diff = x[:, None, :] - means[None]  # (rows, classes, dim)
        return np.einsum("ncd,de,nce->nc", diff, precision, diff).min(1)

    return distance
