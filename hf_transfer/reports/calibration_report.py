"""The calibration section of a run's report: how far its probabilities can be trusted on each eval set before
and after temperature scaling, the accuracy when only the most confident predictions are kept, how well other
eval sets are told apart from the in-domain test set, a reliability diagram and a risk-coverage curve."""

from __future__ import annotations

from pathlib import Path

from .. import run_folder, tasks
from ..intervals import num
from . import figures


def table(calibration: dict) -> list[str]:
    """Markdown rows: per eval set, the median confidence and ECE (equal mass) before -> after, equal-width ECE, NLL,
    Brier, selective accuracy."""
    md = run_folder.md_text
    lines = ["| eval set | median confidence before | after | ECE before | ECE after | its floor | ECE (equal width) "
             "after | NLL before | NLL after | Brier after | accuracy at 80 % coverage | at 90 % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in calibration["sets"].items():
        b, a = s["before"], s["after"]
        lines.append(f"| {md(name)} | {num(b.get('median_confidence'), '.3f')} | {num(a.get('median_confidence'), '.3f')} | "
                     f"{num(b['ece'])} | {num(a['ece'])} | {num(a.get('ece_floor'))} | "
                     f"{num(a['ece_equal_width'])} | {num(b['nll'])} | {num(a['nll'])} | {num(a['brier'])} | "
                     f"{num(a['accuracy_at_80'])} | {num(a['accuracy_at_90'])} |")
    return lines


def how(calibration: dict) -> str:
    if calibration["method"] == "temperature":
        return (f"Temperature scaling: T = {calibration['temperature']:.3f}, fitted on the validation split (LBFGS on "
                "the NLL) and folded into the saved model's last layer, so its probabilities are the *after* ones "
                "wherever it is loaded; accuracy and F1 are unchanged by construction.")
    return "Not calibrated (" + calibration.get("note", "train.calibrate: none") + "): *before* and *after* are the same."


def section(metrics: dict, run_dir: Path) -> list[str]:
    """The report's lines (and its two figures, written into `run_dir`)."""
    calibration = metrics.get("calibration")
    if not calibration:
        return []
    own = tasks.of_metrics(metrics).trust_lines(calibration)
    if own is not None:
        return own
    lines = ["", "## Calibration and selective prediction", "", how(calibration) + f" ECE bins: {calibration['bins']}. "
             "Floor: the ECE a perfectly calibrated model with the same confidences would show on this many rows "
             "(simulated); an ECE near it cannot be told from perfect calibration. Median confidence: the top class's "
             "probability on the median row (near 1 / classes before scaling: a head whose logits stayed small).", "",
             *table(calibration)]
    if calibration.get("ood"):
        md = run_folder.md_text
        lines += ["", "Telling each other eval set from the in-domain test set (AUROC; 0.5: cannot, 1: always): by "
                  "maximum softmax probability, energy, and where the run kept features, the Mahalanobis distance to "
                  "the nearest class mean (fitted on the validation features).", "",
                  "| eval set | MSP | energy | Mahalanobis |", "|---|---:|---:|---:|"]
        lines += [f"| {md(name)} | {num(o['msp'], '.3f')} | {num(o['energy'], '.3f')} | {num(o.get('mahalanobis'), '.3f')} |"
                  for name, o in calibration["ood"].items()]
    if plot(calibration, run_dir / "calibration.png"):
        lines += ["", "![reliability diagrams and risk-coverage curves](calibration.png)"]
    return lines


def plot(calibration: dict, path: Path) -> Path | None:
    """Per eval set: the reliability diagram (accuracy against confidence per equal-width bin, before and after
    scaling), and one risk-coverage panel (accuracy of the most confident x % of predictions)."""
    plt = figures.pyplot()
    sets = calibration["sets"]
    if not sets:
        return None
    fig, axes = plt.subplots(1, len(sets) + 1, figsize=(3.2 * (len(sets) + 1), 3.3))
    for ax, (name, s) in zip(axes, sets.items()):
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
        for key, label in (("before_curves", "before"), ("after_curves", "after")):
            r = s[key]["reliability"]
            points = [(c, a) for c, a in zip(r["confidence"], r["accuracy"]) if c is not None]
            ax.plot(*zip(*points), marker="o", ms=3, label=f"{label} (ECE {s[label]['ece']:.3f})")
        ax.set(title=f"reliability: {name}", xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    ax = axes[-1]
    for name, s in sets.items():
        ax.plot(*zip(*s["after_curves"]["risk_coverage"]), marker=".", label=name)
    ax.set(title="risk-coverage (after)", xlabel="coverage (most confident share kept)", ylabel="accuracy", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return figures.save(fig, path, dpi=100)
