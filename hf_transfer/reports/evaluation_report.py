"""The report of `hf-transfer evaluate` (evaluation.py): a saved model's scores on each dataset, the change from
the first, per-class F1 and a figure (report.md / report.html / report.json, sets.png)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import run_folder, tasks
from ..intervals import num
from . import figures
from .run_report import per_class_table, write_html


def drops(final: dict, task=None) -> dict:
    """{set: {metric: change}} of each set after the first, for the task's two headline metrics (single_label:
    accuracy and macro-F1): its score minus the first set's (negative: lower)."""
    keys = [key for key, _, _ in (task or tasks.get_task(tasks.DEFAULT)).headline]
    first = next(iter(final.values()))
    return {k: {m: v[m] - first[m] for m in keys} for k, v in list(final.items())[1:]}


def write_report(out: Path, metrics: dict) -> Path:
    """report.md / report.html / report.json and sets.png of an evaluation."""
    md, final, task = run_folder.md_text, metrics["final"], tasks.of_metrics(metrics)
    change = drops(final, task)
    first = next(iter(final))
    heads = [(key, title) for key, title, _ in task.headline]
    lines = [f"# Evaluation of {md(metrics['model'])}", "",
             f"A saved {metrics['library']} {metrics['modality']} {task.noun} scored on {len(final)} dataset(s), "
             "nothing trained." + (f" Change: the score minus that on `{md(first)}`." if change else ""), "",
             *(f"**Warning:** {md(w)}" for w in metrics["warnings"]), *([""] if metrics["warnings"] else []),
             "| eval set | data | samples | " + " | ".join(title for _, title in task.table) + " |"
             + ("".join(f" {title} change |" for _, title in heads) if change else ""),
             "|---|---|---:|" + "---:|" * len(task.table) + ("---:|" * len(heads) if change else "")]
    for k, m in final.items():
        row = (f"| {md(k)} | {md(metrics['eval_datasets'][k])} | {m['num_samples']} | "
               + " | ".join(num(m.get(key)) for key, _ in task.table) + " |")
        if change:
            row += "".join(f" {change[k][key]:+.4f} |" for key, _ in heads) if k in change else " |" * len(heads)
        lines.append(row)
    lines += _calibration(metrics)
    if all("per_class_f1" in m for m in final.values()):
        lines += ["", "## Per-class F1", "", *per_class_table(final, metrics["label_names"])]
    if _plot(final, heads, out / "sets.png"):
        lines += ["", f"![{heads[0][1]} and {heads[1][1]} per set](sets.png)"]
    path = out / run_folder.REPORT
    path.write_text("\n".join(lines) + "\n")
    (out / "report.json").write_text(run_folder.strict_json({"model": metrics["model"], "sets": final, "change": change}))
    write_html(path, out / "report.html")
    return path


def _calibration(metrics: dict) -> list[str]:
    """A single-label classifier's calibration and selective prediction per set; a multi-label one's ECE and Brier."""
    md, final = run_folder.md_text, metrics["final"]
    if not all("ece" in m.get("calibration", {}) for m in final.values()):
        return []
    if not all("nll" in m["calibration"] for m in final.values()):
        return ["", "## Calibration", "", "The model's probabilities as saved: ECE of each label's probability (15 bins "
                "of equal mass), averaged over labels, and the Brier score.", "", "| eval set | ECE | Brier |",
                "|---|---:|---:|", *(f"| {md(k)} | {m['calibration']['ece']:.4f} | {m['calibration']['brier']:.4f} |"
                                      for k, m in final.items())]
    lines = ["", "## Calibration and selective prediction", "", "The model's probabilities as saved (a run's "
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
    return lines


def _plot(final: dict, heads: list, path: Path) -> Path:
    plt = figures.pyplot()
    names = list(final)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(names)), 3.2))
    values = [[final[n][key] for n in names] for key, _ in heads]
    for i, ((_, label), v) in enumerate(zip(heads, values)):
        ax.bar(x + (i - 0.5) * 0.38, v, 0.38, label=label)
    unit = all(0 <= v <= 1 for row in values for v in row)
    ax.set(xticks=x, xticklabels=names, ylim=(0, 1) if unit else None, title="score per eval set")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return figures.save(fig, path)

