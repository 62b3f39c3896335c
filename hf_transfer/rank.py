"""Which backbone should I start from? Transferability scores from one forward pass.

`score(model, dataset)` runs a candidate backbone (any form `model.name` accepts) once over up to
`max_samples` labelled samples of the target data, frozen, and scores how well its features (or
its source classifier's predictions) fit the target labels:

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

plus the candidate's parameters, its forward FLOPs on one sample (counted by
torch.utils.flop_counter) and the samples/s measured while extracting. `layer` picks features of
another depth: timm's `forward_intermediates` block index (global-average pooled) or a transformers
hidden-state index (mean pooled over the attention mask), e.g. -1 for the last block.
`hf-transfer rank` (rank_report.py) scores several candidates and ranks them.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch

from .errors import UserError

ESTIMATORS = ("logme", "leep", "nce", "h_score")
RANDOM_PREFIX = "random:"  # "random:NAME": the architecture of NAME with random weights (the from-scratch control)


# -- the estimators ------------------------------------------------------------------------------

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
    return float(np.trace(np.linalg.solve(shrunk, cov_g)))


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


# -- running a candidate -------------------------------------------------------------------------

def _source_label_names(name: str) -> list[str] | None:
    """The classes of the checkpoint's own head, read from a local folder's config.json (timm's
    label_names / num_classes, transformers' id2label); None when unknown (a Hub id)."""
    from .models import resolve

    resolved = resolve(name)
    config = resolved.config
    return resolved.adapter.head_classes(config) if config is not None else None


def load_candidate(name: str, task: str, label_names: list[str]):
    """(model, has_source_head): the backbone with its own head when it has one (for LEEP / NCE), else with a
    new head for `label_names` (features only). `random:NAME` builds NAME's architecture untrained."""
    from .config import ModelConfig
    from .models import load_backbone

    pretrained = not name.startswith(RANDOM_PREFIX)
    ref = name.removeprefix(RANDOM_PREFIX)
    cfg = ModelConfig(name=ref, pretrained=pretrained)
    source = _source_label_names(ref) if pretrained else None
    if source:
        model = load_backbone(cfg, task, source)
        if not model.head_is_new:
            return model, True
    return load_backbone(cfg, task, label_names), False


def check_layer(model, layer: int | None) -> None:
    """--layers: an index the backbone has (timm feature blocks, or transformers hidden states: embeddings + layers)."""
    if layer is None:
        return
    count, what = model.adapter.layer_count(model)
    if not -count <= layer < count:
        raise UserError(f"--layers: {layer} is out of range for {model.source}, which has {count} {what}: "
                        f"0 to {count - 1}, or -1 to -{count} from the end")


@torch.no_grad()
def extract(model, loader, on_device, layer: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(features, source logits (None for a layer), labels, samples/s) of the frozen model over a loader."""
    from accelerate.utils import send_to_device
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    feats, logits, labels, seconds = [], [], [], 0.0
    for batch in tqdm(loader, desc=f"features of {model.source}", leave=False):
        batch = on_device(send_to_device(batch, device), False)
        tick = time.perf_counter()
        if layer is None:
            out, f = model(batch, return_features=True)
            logits.append(out.float().cpu())
        else:  # the forward pass up to that block only (no source predictions from it)
            f = model.adapter.layer_features(model, batch, layer)
        seconds += time.perf_counter() - tick
        feats.append(f.float().cpu())
        labels.append(batch["labels"].cpu())
    n = sum(len(x) for x in labels)
    source_logits = torch.cat(logits).numpy() if logits else None
    return torch.cat(feats).numpy(), source_logits, torch.cat(labels).numpy(), n / max(seconds, 1e-9)


def backbone_parameters(model) -> int:
    """Parameters without the head (which differs between a source head and a new one)."""
    head = {id(p) for p in model.head.parameters()}
    return sum(p.numel() for p in model.net.parameters() if id(p) not in head)


def count_flops(model, loader, on_device) -> int:
    """Forward FLOPs for one sample (torch.utils.flop_counter: matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = next(iter(loader))
    device = next(model.parameters()).device
    one = on_device({k: v[:1].to(device) if torch.is_tensor(v) else v for k, v in batch.items()}, False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(one)
    return int(counter.get_total_flops())


def data_config(dataset: str, max_samples: int, image_size: int | None = None, max_length: int = 128):
    """The labelled samples a candidate is scored on: up to `max_samples` of the train split (stratified)."""
    from .config import DataConfig

    return DataConfig(dataset=dataset, max_train_samples=max_samples, validation_split=None, eval_splits=[],
                      image_size=image_size, max_length=max_length)


def score(model: str, dataset: str, max_samples: int = 1000, layer: int | None = None, image_size: int | None = None,
          max_length: int = 128, batch_size: int = 32, seed: int = 0, splits=None) -> dict:
    """Transferability scores of backbone `model` on the labelled train samples of `dataset`."""
    from accelerate.utils import set_seed

    from .data.loaders import build_loaders
    from .data.sources import build_splits

    set_seed(seed)
    if splits is None:
        splits = build_splits(data_config(dataset, max_samples, image_size, max_length), "auto", seed)
    check_samples(splits, dataset)
    net, has_head = load_candidate(model, splits.task, splits.label_names)
    check_layer(net, layer)
    net.eval()
    only_train = dataclasses.replace(splits, evals={"train": splits.train}, validation=None)
    loaders = build_loaders(only_train, net, data_config(dataset, max_samples, image_size, max_length), batch_size,
                            batch_size, seed, augment={})
    tick = time.perf_counter()
    features, logits, labels, per_second = extract(net, loaders.evals["train"], loaders.on_device, layer)
    result = {"model": model, "layer": layer, "dataset": dataset, "samples": int(len(labels)),
              "classes": len(splits.label_names), "feature_dim": int(features.shape[1]),
              "source_head": has_head, "logme": logme(features, labels), "h_score": h_score(features, labels),
              "leep": None, "nce": None, "parameters": backbone_parameters(net),
              "flops": count_flops(net, loaders.evals["train"], loaders.on_device), "samples_per_second": per_second}
    if has_head and layer is None:  # LEEP and NCE score the source classifier, which reads the last features only
        probs = torch.softmax(torch.from_numpy(logits), -1).numpy()
        result.update(leep=leep(probs, labels, len(splits.label_names)), nce=nce(logits.argmax(1), labels))
    result["seconds"] = time.perf_counter() - tick
    return result


def check_samples(splits, dataset: str) -> None:
    """Enough labelled samples to score: two a class and ten in all (the covariances and evidence need them)."""
    n, classes = len(splits.train), len(splits.label_names)
    if n < max(10, 2 * classes):
        raise UserError(f"--dataset: {dataset} has {n} labelled samples for {classes} classes; transferability scores "
                        f"need at least {max(10, 2 * classes)} (two a class, ten in all)")


def parse_candidates(models: str, layers: str | None) -> list[tuple[str, int | None]]:
    """`--models A,B --layers -1,3` -> [(A, None), (A, -1), (A, 3), (B, None)...]: every model at its head's
    input, and at each layer asked for."""
    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise UserError("--models: name at least one model")
    try:
        depths = [int(x) for x in layers.split(",") if x.strip()] if layers else []
    except ValueError as e:
        raise UserError(f"--layers: {layers!r} is not a comma-separated list of block indexes ({e})") from e
    return [(name, depth) for name in names for depth in [None, *depths]]
