"""The report of `hf-transfer evaluate` (evaluation.py): a saved model's scores on each dataset, the change from
the first, per-class F1 and a figure (report.md / report.html / report.json, sets.png)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import run_folder
from . import figures
from .run_report import per_class_table, write_html


def drops(final: dict) -> dict:
    """{set: {accuracy, f1_macro}} of each set after the first: its score minus the first set's (negative: lower)."""
    first = next(iter(final.values()))
    return {k: {m: v[m] - first[m] for m in ("accuracy", "f1_macro")} for k, v in list(final.items())[1:]}


def write_report(out: Path, metrics: dict) -> Path:
    """report.md / report.html / report.json and sets.png of an evaluation."""
    md, final = run_folder.md_text, metrics["final"]
    change = drops(final)
    first = next(iter(final))
    lines = [f"# Evaluation of {md(metrics['model'])}", "",
             f"A saved {metrics['library']} {metrics['task']} classifier scored on {len(final)} dataset(s), "
             "nothing trained." + (f" Change: the score minus that on `{md(first)}`." if change else ""), "",
             *(f"**Warning:** {md(w)}" for w in metrics["warnings"]), *([""] if metrics["warnings"] else []),
             "| eval set | data | samples | accuracy | macro-F1 | weighted-F1 | loss |"
             + (" accuracy change | macro-F1 change |" if change else ""),
             "|---|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if change else "")]
    for k, m in final.items():
        row = (f"| {md(k)} | {md(metrics['eval_datasets'][k])} | {m['num_samples']} | {m['accuracy']:.4f} | "
               f"{m['f1_macro']:.4f} | {m['f1_weighted']:.4f} | {m['loss']:.4f} |")
        if change:
            row += (f" {change[k]['accuracy']:+.4f} | {change[k]['f1_macro']:+.4f} |" if k in change else " | |")
        lines.append(row)
    lines += ["", "## Calibration and selective prediction", "", "The model's probabilities as saved (a run's "
              "temperature is already in them). ECE over 15 bins of equal mass, and of equal width; accuracy of the "
              "most confident 80 % / 90 % of rows.", "",
              "| eval set | ECE | ECE (equal width) | NLL | Brier | accuracy at 80 % coverage | at 90 % |"
              + (" told from the first (MSP AUROC) |" if metrics.get("ood") else ""),
              "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if metrics.get("ood") else "")]
    for k, m in final.items():
        c = m["calibration"]
        row = (f"| {md(k)} | {c['ece']:.4f} | {c['ece_equal_width']:.4f} | {c['nll']:.4f} | {c['brier']:.4f} | "
               f"{c['accuracy_at_80']:.4f} | {c['accuracy_at_90']:.4f} |")
        if metrics.get("ood"):
            row += f" {metrics['ood'][k]['msp']:.3f} |" if k in metrics["ood"] else " |"
        lines.append(row)
    lines += ["", "## Per-class F1", "", *per_class_table(final, metrics["label_names"])]
    if _plot(final, out / "sets.png"):
        lines += ["", "![accuracy and macro-F1 per set](sets.png)"]
    path = out / run_folder.REPORT
    path.write_text("\n".join(lines) + "\n")
    (out / "report.json").write_text(run_folder.strict_json({"model": metrics["model"], "sets": final, "change": change}))
    write_html(path, out / "report.html")
    return path


def _plot(final: dict, path: Path) -> Path:
    plt = figures.pyplot()
    names = list(final)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(names)), 3.2))
    for i, (key, label) in enumerate((("accuracy", "accuracy"), ("f1_macro", "macro-F1"))):
        ax.bar(x + (i - 0.5) * 0.38, [final[n][key] for n in names], 0.38, label=label)
    ax.set(xticks=x, xticklabels=names, ylim=(0, 1), title="score per eval set")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return figures.save(fig, path)

