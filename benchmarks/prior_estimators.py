"""Which estimate of the target class priors would make label-shift correction pay off on macro-F1?

Reads the source_only models of a tweets (or any) domain_adaptation run with mlls, scores them once on
the source validation set, the unlabelled target train set and the labelled target test set, and
then tries prior estimators and decision rules offline on those logits, with the library's own
`calibration.fit_scaling`, `estimate_priors_em` and `macro_f1_offsets` (strategies/posthoc.py):

    hf-transfer run domain_adaptation --benchmark tweets --seeds 5 --methods source_only,mlls -o runs/tw
    python benchmarks/prior_estimators.py runs/tw --seeds 0,1,2,3,4

Rows: each estimator with the accuracy rule (argmax of the re-weighted posteriors) and the macro-F1
rule; "true priors (control)" gives the true priors of the target test set (it reads target labels);
"adabn, then EM" re-estimates the BatchNorm statistics (the bottleneck's) on the target before EM. Prints
the estimated priors per seed and the target macro-F1 with its paired 95 % CI against source_only
(benchmarks/RESULTS.md 6f).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch
from common import table
from sklearn.metrics import f1_score

from hf_transfer.calibration import fit_scaling
from hf_transfer.config import load
from hf_transfer.data.loaders import build_loaders
from hf_transfer.data.splits import build_splits
from hf_transfer.launch import quiet_libraries
from hf_transfer.models import load_backbone
from hf_transfer.reports.adaptation_report import _interval
from hf_transfer.runs.posthoc_run import UNLABELLED, _predictor, trained_prior
from hf_transfer.strategies.posthoc import (
    AdaBN,
    batch_norms,
    estimate_label_shift,
    estimate_priors_em,
    macro_f1_offsets,
    solve_label_shift,
)


def logits_of(config: str) -> dict:
    """{set: logits} and {set_labels: labels} of the model the mlls config adjusts, before and after adabn."""
    cfg = load(config)
    splits = build_splits(cfg.data, "auto", cfg.train.seed)
    model = load_backbone(cfg.model, splits.modality, splits.label_names)
    sets = dataclasses.replace(splits, evals={**splits.evals, UNLABELLED: splits.target_train})
    loaders = build_loaders(sets, model, cfg.data, cfg.train.batch_size, 2 * cfg.train.batch_size, cfg.train.seed,
                            augment={})
    predict = _predictor(model.eval(), loaders, "cpu", "scoring")
    out = {"trained_prior": trained_prior(splits, cfg)}
    for name in ("validation", UNLABELLED, "target"):
        out[name], labels = predict(name)
        if labels is not None:
            out[name + "_labels"] = labels
    if batch_norms(model):  # then the same model after adabn
        AdaBN().adjust(model, predict, out["trained_prior"])
        out["adabn_" + UNLABELLED], out["adabn_target"] = predict(UNLABELLED)[0], predict("target")[0]
    return out


def bbse_soft(p_val: np.ndarray, y_val: np.ndarray, p_target: np.ndarray) -> np.ndarray:
    """BBSE on soft predictions: C[i, j] = mean over validation of p_i(x) 1[y = j], mu = mean over the target of p(x)."""
    confusion = np.stack([p_val[y_val == j].sum(0) for j in range(p_val.shape[1])], 1) / len(y_val)
    return np.asarray(solve_label_shift(confusion, p_target.mean(0))["estimated_target_priors"])


def estimates(d: dict) -> dict:
    """{estimator: (posteriors of the unlabelled target, of the target test, their prior, estimated priors)}."""
    val, y_val = d["validation"].float(), d["validation_labels"]
    k = val.shape[1]
    source = np.bincount(y_val.numpy(), minlength=k) / len(y_val)
    true = np.bincount(d["target_labels"].numpy(), minlength=k) / len(d["target_labels"])
    t, b = fit_scaling(val, y_val, class_bias=True, max_iter=200, dtype=torch.float32)
    t_only, _ = fit_scaling(val, y_val, max_iter=200, dtype=torch.float32)

    def softmax(logits, scale=1.0, bias=0.0):
        return torch.softmax(logits.float() / scale + bias, -1).double().numpy()

    bcts = (softmax(d[UNLABELLED], t, b), softmax(d["target"], t, b))
    rows = {"mlls (EM, BCTS)": (*bcts, source, estimate_priors_em(bcts[0], source)[0]),
            "true priors (control)": (*bcts, source, true)}
    ts = (softmax(d[UNLABELLED], t_only), softmax(d["target"], t_only))
    trained = d["trained_prior"]  # what the uncalibrated model's posteriors are relative to (balanced: uniform)
    rows["EM, temperature only"] = (*ts, trained, estimate_priors_em(ts[0], trained)[0])
    raw = (softmax(d[UNLABELLED]), softmax(d["target"]))
    rows["EM, uncalibrated"] = (*raw, trained, estimate_priors_em(raw[0], trained)[0])
    hard = estimate_label_shift(val.argmax(1).numpy(), y_val.numpy(), d[UNLABELLED].argmax(1).numpy(), k)
    rows["bbse (hard)"] = (*bcts, source, np.asarray(hard["estimated_target_priors"]))
    rows["bbse (soft)"] = (*bcts, source, bbse_soft(softmax(val, t, b), y_val.numpy(), bcts[0]))
    if "adabn_target" in d:
        ab = (softmax(d["adabn_" + UNLABELLED], t, b), softmax(d["adabn_target"], t, b))
        rows["adabn, then EM"] = (*ab, source, estimate_priors_em(ab[0], source)[0])
    return rows


def decisions(p_unlabelled, p_target, prior, q) -> dict:
    """Target test predictions of the accuracy rule and of the macro-F1 rule, for estimated priors q."""
    def shifted(p):
        s = p * (np.maximum(q, 1e-12) / prior)
        return s / s.sum(1, keepdims=True)

    offsets = macro_f1_offsets(shifted(p_unlabelled))
    target = shifted(p_target)
    return {"accuracy rule": target.argmax(1), "macro-F1 rule": (np.log(target + 1e-12) + offsets).argmax(1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", help="a domain_adaptation output folder with source_only/ and mlls/ runs")
    p.add_argument("--seeds", default="0,1,2,3,4")
    args = p.parse_args()
    quiet_libraries()
    scores, priors = {}, {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        d = logits_of(f"{args.runs}/mlls/seed{seed}/config.yaml")
        y = d["target_labels"].numpy()
        scores.setdefault(("source_only", ""), []).append(f1_score(y, d["target"].argmax(1).numpy(), average="macro"))
        for name, (pu, pt, prior, q) in estimates(d).items():
            priors.setdefault(name, []).append("/".join(f"{v:.2f}" for v in q))
            for rule, pred in decisions(pu, pt, prior, q).items():
                scores.setdefault((name, rule), []).append(f1_score(y, pred, average="macro"))
    base = np.asarray(scores[("source_only", "")])
    rows = []
    for (name, rule), values in scores.items():
        gain = _interval(list(np.asarray(values) - base)) if rule else None
        rows.append({"estimator": name, "rule": rule, "f1": float(np.mean(values)),
                     "gain": gain["mean"] if gain else None, "low": gain["low"] if gain else None,
                     "high": gain["high"] if gain else None, "per_seed": " ".join(f"{v:.3f}" for v in values)})
    table(rows, [("estimator", "estimator", ""), ("rule", "rule", ""), ("f1", "target macro-F1", ".3f"),
                 ("gain", "gain", "+.3f"), ("low", "95% CI low", "+.3f"), ("high", "high", "+.3f"),
                 ("per_seed", "per seed", "")])
    for name, values in priors.items():
        print(f"{name}: estimated priors per seed {'  '.join(values)}")


if __name__ == "__main__":
    main()
