"""Transferability estimators: how well a frozen backbone's features (or its source classifier's predictions)
fit the target labels, from one forward pass, before any fine-tuning (ranking.py runs the candidates).

* LogME (You et al. 2021, https://arxiv.org/abs/2102.11005): the log marginal likelihood (evidence)
  per sample of a Bayesian linear regression from the features to each one-hot label column, with
  the prior and noise precisions (alpha, beta) set by evidence maximisation (MacKay's fixed-point
  updates), averaged over classes. Any features; higher is better.
* H-score (Bao et al. 2019, https://ieeexplore.ieee.org/document/8803726): tr(cov(f)^-1 cov(E[f|y])),
  how much of the features' variance the classes explain, with the shrunk covariance of the
  regularised H-score (Ibrahim et al. 2022). Any features; higher is better.
* LEEP (Nguyen et al. 2020, https://arxiv.org/abs/2002.12462): the log-likelihood of the target
  labels under the "expected empirical predictor" built from the source classifier's soft
  predictions, P(y|z) estimated on the same samples. Needs a model with its source head
  (ImageNet classes, a model this project trained...); higher is better.
* NCE (Tran et al. 2019, https://arxiv.org/abs/1908.08142): -H(Y|Z), the negative conditional
  entropy of the target labels given the source classifier's hard predictions. Needs a source head.
"""

from __future__ import annotations

import math

import numpy as np

ESTIMATORS = ("logme", "leep", "nce", "h_score")


def _logme_column(u: np.ndarray, s2: np.ndarray, y: np.ndarray, d: int, tol: float = 1e-6,
                  max_iter: int = 100) -> tuple[float, float, float]:
    """Evidence per sample of one label column y (n,) given F = U diag(s) V^T (s2 = s**2, r values):
    (evidence / n, alpha, beta) at the fixed point of alpha = gamma / m'm, beta = (n - gamma) / ||Fm - y||^2."""
    n = len(y)
    z = u.T @ y  # y's coordinates in the span of F
    outside = max(float(y @ y - z @ z), 0.0)  # the part of y no linear map of F reaches
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        shrink = beta * s2 / (alpha + beta * s2)
        gamma = float(shrink.sum())
        mm = float(np.sum(beta**2 * s2 * z**2 / (alpha + beta * s2) ** 2))  # m'm, m the posterior mean
        residual = outside + float(np.sum((alpha / (alpha + beta * s2)) ** 2 * z**2))  # ||Fm - y||^2
        new_alpha, new_beta = gamma / max(mm, 1e-12), (n - gamma) / max(residual, 1e-12)
        done = abs(new_alpha - alpha) / alpha < tol and abs(new_beta - beta) / beta < tol
        alpha, beta = new_alpha, new_beta
        if done:
            break
    shrink = beta * s2 / (alpha + beta * s2)
    mm = float(np.sum(beta**2 * s2 * z**2 / (alpha + beta * s2) ** 2))
    residual = outside + float(np.sum((alpha / (alpha + beta * s2)) ** 2 * z**2))
    log_det = float(np.sum(np.log(alpha + beta * s2))) + (d - len(s2)) * math.log(alpha)  # log|alpha I + beta F'F|
    evidence = (n / 2 * math.log(beta) + d / 2 * math.log(alpha) - n / 2 * math.log(2 * math.pi)
                - beta / 2 * residual - alpha / 2 * mm - log_det / 2)
    return evidence / n, alpha, beta


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME of features (n, d) for integer labels (n,): the mean over classes of the evidence per sample."""
    f = np.asarray(features, dtype=np.float64)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    keep = s > s.max() * 1e-10 if len(s) else s > 0
    u, s2 = u[:, keep], s[keep] ** 2
    classes = np.unique(labels)
    return float(np.mean([_logme_column(u, s2, (labels == c).astype(np.float64), f.shape[1])[0] for c in classes]))


def h_score(features: np.ndarray, labels: np.ndarray) -> float:
    """H-score with a shrunk feature covariance (the regularised H-score of Ibrahim et al. 2022,
    https://arxiv.org/abs/2208.07734): tr(S^-1 (1 - a) cov(E[f|y])), S = (1 - a) cov(f) + a mu I with
    Ledoit-Wolf's a. The plain inverse makes every score classes - 1 once the width reaches the samples."""
    from sklearn.covariance import ledoit_wolf

    f = np.asarray(features, dtype=np.float64)
    f = f - f.mean(0)
    means = np.zeros_like(f)
    for c in np.unique(labels):
        means[labels == c] = f[labels == c].mean(0)
    shrunk, a = ledoit_wolf(f, assume_centered=True)
    cov_g = (1 - a) * means.T @ means / len(f)
    try:
        return float(np.trace(np.linalg.solve(shrunk, cov_g)))
    except np.linalg.LinAlgError:  # features of no spread (a few repeated inputs): the pseudo-inverse
        return float(np.trace(np.linalg.pinv(shrunk) @ cov_g))


def leep(source_probs: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """(1/n) sum_i log sum_z P(y_i|z) theta_z(x_i), P(y, z) = (1/n) sum_i theta_z(x_i) [y_i = y]."""
    theta = np.asarray(source_probs, dtype=np.float64)
    joint = np.zeros((num_classes, theta.shape[1]))
    np.add.at(joint, labels, theta)
    joint /= len(labels)
    conditional = joint / np.maximum(joint.sum(0, keepdims=True), 1e-300)  # P(y|z)
    return float(np.mean(np.log(np.maximum(np.sum(conditional[labels] * theta, 1), 1e-300))))


def nce(source_pred: np.ndarray, labels: np.ndarray) -> float:
    """-H(Y|Z) = sum_{y,z} P(y, z) log P(y|z), from hard source predictions z."""
    joint = np.zeros((labels.max() + 1, source_pred.max() + 1))
    np.add.at(joint, (labels, source_pred), 1.0)
    joint /= len(labels)
    conditional = joint / np.maximum(joint.sum(0, keepdims=True), 1e-300)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(conditional[nonzero])))

