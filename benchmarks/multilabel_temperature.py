"""Multi-label calibration: a scale and a bias per label (Platt scaling, what runs fit by default) against one
temperature shared by every label and one per label, measured on finished multi-label runs (RESULTS.md, "Beyond one
label").

    python benchmarks/multilabel_temperature.py ../runs/tasks/multi_label/seed*/finetune

Each run's saved model has its own calibration folded in; it is undone (metrics.json says what it was) to get the
trained model's outputs. The validation split is rebuilt from the run's config (the same seed, so the same rows).
The choice between the methods is read on validation alone, by 2-fold cross-fitting (fit on one half of the rows,
score the other, both ways); each method is then fitted on the whole validation split and scored once on test: the
mean over labels of each label's ECE (15 equal-mass bins) and the mean BCE.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hf_transfer  # noqa: E402
from hf_transfer.data.splits import build_splits  # noqa: E402
from hf_transfer.intervals import bracket, t_interval  # noqa: E402
from hf_transfer.tasks.multi_label import _bce, _sigmoid, fit_platt, label_calibration  # noqa: E402

METHODS = {
    "shared": lambda z, y: fit_platt(z, y, shared=True),
    "per_label_T": lambda z, y: (np.concatenate([fit_platt(z[:, [k]], y[:, [k]], shared=True)[0]
                                                 for k in range(z.shape[1])]), np.zeros(z.shape[1])),
    "platt": fit_platt,
}


def _raw(run: Path, outputs: np.ndarray) -> np.ndarray:
    """The trained model's outputs: the saved model's with its calibration undone."""
    c = json.loads((run / "metrics.json").read_text())["calibration"]
    if c.get("scale"):
        return (outputs - np.array(list(c["shift"].values()))) / np.array(list(c["scale"].values()))
    return outputs * (c.get("temperature") or 1.0)


def _score(fit, z_fit, y_fit, z, y) -> tuple[float, float]:
    scale, shift = fit(z_fit, y_fit)
    out = z * scale + shift
    return label_calibration(_sigmoid(out), y)["ece"], _bce(out, y)


def measure(run: Path) -> dict:
    clf = hf_transfer.load(run)
    cfg = clf.config
    splits = build_splits(cfg.data, cfg.modality, cfg.train.seed, task=cfg.task)
    sets = {"validation": splits.validation, "test": splits.evals["test"]}
    z = {k: _raw(run, clf.outputs(ds)) for k, ds in sets.items()}
    y = {k: splits.task.label_array(ds) for k, ds in sets.items()}
    halves = np.array_split(np.random.default_rng(0).permutation(len(y["validation"])), 2)
    row = {"run": str(run)}
    for name, fit in METHODS.items():
        folds = [_score(fit, z["validation"][a], y["validation"][a], z["validation"][b], y["validation"][b])
                 for a, b in (halves, halves[::-1])]
        row[f"{name}_cv_bce"] = float(np.mean([bce for _, bce in folds]))
        row[f"{name}_cv_ece"] = float(np.mean([ece for ece, _ in folds]))
        row[f"{name}_test_ece"], row[f"{name}_test_bce"] = _score(fit, z["validation"], y["validation"], z["test"], y["test"])
    return row


def main() -> None:
    rows = [measure(Path(p)) for p in sys.argv[1:]]
    print("| run | validation, cross-fitted: BCE / ECE (shared T, T per label, Platt) | test: BCE / ECE (the same) |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | " + ", ".join(f"{r[f'{m}_cv_bce']:.4f} / {r[f'{m}_cv_ece']:.4f}" for m in METHODS)
              + " | " + ", ".join(f"{r[f'{m}_test_bce']:.4f} / {r[f'{m}_test_ece']:.4f}" for m in METHODS) + " |")
    for where in ("cv", "test"):
        for key in ("bce", "ece"):
            for other in ("per_label_T", "platt"):
                ci = t_interval([r[f"{other}_{where}_{key}"] - r[f"shared_{where}_{key}"] for r in rows])
                print(f"{where}: {other} - shared, {key.upper()}: {ci['mean']:+.4f} {bracket(ci)}")


if __name__ == "__main__":
    main()
