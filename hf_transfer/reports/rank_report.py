"""The report of `hf-transfer rank` (ranking.py runs it): the candidates ranked by LogME (the estimator of the
four that needs no source head and whose scale does not grow with the width), a recommendation, and after
`--validate` Kendall's tau and Spearman's rho between each score and the fine-tuned test accuracy, which say
how far the cheap scores can be trusted on this data, with a score-vs-accuracy plot. Output: OUT/rank.md,
rank.html (the report style of `hf-transfer report`), rank.json, rank_validation.png."""

from __future__ import annotations

from pathlib import Path

from .. import run_folder
from ..intervals import num
from ..transferability import ESTIMATORS
from . import figures

NAMES = {"logme": "LogME", "leep": "LEEP", "nce": "NCE", "h_score": "H-score"}


def label(row: dict) -> str:
    return row["model"] if row["layer"] is None else f"{row['model']} @ layer {row['layer']}"


def correlations(rows: list[dict]) -> dict:
    """{estimator: {tau, rho, n}} between each score and the fine-tuned test accuracy (None below 3 candidates)."""
    from scipy import stats

    result = {}
    for key in ESTIMATORS:
        pairs = [(r[key], r["finetuned_accuracy"]) for r in rows
                 if r.get(key) is not None and r.get("finetuned_accuracy") is not None]
        if len(pairs) < 3:
            result[key] = {"tau": None, "rho": None, "n": len(pairs)}
            continue
        x, y = zip(*pairs)
        result[key] = {"tau": float(stats.kendalltau(x, y).statistic), "rho": float(stats.spearmanr(x, y).statistic),
                       "n": len(pairs)}
    return result


def plot(rows: list[dict], path: Path) -> Path | None:
    plt = figures.pyplot()
    used = [k for k in ESTIMATORS if any(r.get(k) is not None and "finetuned_accuracy" in r for r in rows)]
    if not used:
        return None
    fig, axes = plt.subplots(1, len(used), figsize=(4 * len(used), 3.6), squeeze=False)
    for ax, key in zip(axes[0], used):
        points = [(r[key], r["finetuned_accuracy"], label(r)) for r in rows
                  if r.get(key) is not None and r.get("finetuned_accuracy") is not None]
        ax.scatter([p[0] for p in points], [p[1] for p in points])
        for x, y, text in points:
            ax.annotate(text.split("/")[-1][:28], (x, y), fontsize=7)
        ax.set_xlabel(NAMES[key])
        ax.set_ylabel("fine-tuned test accuracy")
    return figures.save(fig, path)


def recommendation(rows: list[dict]) -> str:
    best = rows[0]
    text = f"Start from **{label(best)}**: the highest LogME ({best['logme']:.3f})."
    agree, disagree = [], []
    for key in ("leep", "nce", "h_score"):
        scored = [r for r in rows if r.get(key) is not None]
        if best.get(key) is None or not scored:
            continue
        top = max(scored, key=lambda r: r[key])
        (agree if top is best else disagree).append((NAMES[key], top))
    if agree:
        text += f" {', '.join(n for n, _ in agree)} {'agrees' if len(agree) == 1 else 'agree'}."
    if disagree:
        text += " " + "; ".join(f"{n} prefers {label(top)}" for n, top in disagree) + \
            ": fine-tune the top two or three (`--validate` measures how far to trust each score on this data)."
    cheaper = [r for r in rows[1:] if r["flops"] < best["flops"] / 2 and r["logme"] >= best["logme"] - 0.05]
    if cheaper:
        text += f" {label(cheaper[0])} scores within 0.05 at under half the FLOPs."
    return text


def markdown(result: dict) -> list[str]:
    rows, validated = result["candidates"], result.get("validation") is not None
    head = "| rank | candidate | LogME | LEEP | NCE | H-score | backbone params (M) | MFLOPs / sample | samples/s |"
    lines = [f"# Which backbone? {result['dataset']} ({rows[0]['samples']} labelled samples, {rows[0]['classes']} classes)",
             "", recommendation(rows), "",
             head + (" fine-tuned test acc |" if validated else ""),
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if validated else "")]
    for i, r in enumerate(rows, 1):
        cells = [str(i), label(r), *(num(r[k], ".3f", "n/a") for k in ("logme", "leep", "nce", "h_score")),
                 f"{r['parameters'] / 1e6:.2f}", f"{r['flops'] / 1e6:.0f}", f"{r['samples_per_second']:.0f}"]
        if validated:
            cells.append(num(r.get("finetuned_accuracy"), ".3f", "n/a"))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"- not scored: {run_folder.md_text(x['model'])} ({run_folder.md_text(x['reason'])})" for x in result.get("skipped") or []]
    lines += ["", f"Scoring took {result['rank_seconds']:.0f} s for {len(rows)} candidates. LEEP and NCE need the "
              "checkpoint's own classifier (n/a without one, and for layer candidates); FLOPs are the whole forward pass. "
              "Higher is better for every score."]
    if validated:
        v = result["validation"]
        lines += ["", "## Does the ranking predict fine-tuning?", "",
                  f"Every candidate fine-tuned with one budget ({v['budget']}); {v['seconds']:.0f} s in all, against "
                  f"{result['rank_seconds']:.0f} s for the scores.", "",
                  "| estimator | Kendall's tau | Spearman's rho | candidates |", "|---|---:|---:|---:|"]
        lines += [f"| {NAMES[k]} | {num(c['tau'], '+.2f', 'n/a')} | {num(c['rho'], '+.2f', 'n/a')} | {c['n']} |"
                  for k, c in v["correlations"].items()]
        lines += ["", "![score vs fine-tuned accuracy](rank_validation.png)"]
    return lines + [""]


