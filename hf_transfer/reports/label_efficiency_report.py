"""The label-efficiency curve: runs of several methods at several `data.labelled_per_class` counts and seeds,
compared on the first eval set (the test split).

Per method and count: mean ± std of macro-F1 and accuracy over seeds; the paired 95 % interval of each
method against the best baseline at that count (tfidf_logreg or frozen_logreg, whichever has the higher mean
macro-F1 there) over the seeds both ran (each seed is one labelled subset, shared by every method); and in
words, which method is best at each count, whether it is told apart from the runner-up, and where that
changes. The figure draws macro-F1 against labels per class with the 95 % t interval of each mean.
"""

from __future__ import annotations

from pathlib import Path

from ..intervals import bracket, mean_std, spread, t_interval
from ..strategies.registry import baselines
from . import figures

ALL = "all"
KEY = "label_efficiency"  # its part of report.json


def table(runs: dict) -> dict | None:
    """The section's table, or None when the runs are not a label-efficiency curve."""
    return curve_table(runs)


def is_curve(runs: dict) -> bool:
    return any((c.get("data") or {}).get("labelled_per_class") for _, c, *_ in runs.values())


def _count(c: dict) -> int | str:
    return c["data"].get("labelled_per_class") or ALL


def _order(count) -> float:
    return float("inf") if count == ALL else count


def curve_table(runs: dict) -> dict | None:
    """{"eval_set", "counts", "rows", "crossing"}: one row per (method, count) with its per-seed scores."""
    if not is_curve(runs):
        return None
    cells: dict = {}
    eval_set = None
    for name, (m, c, *_) in runs.items():
        eval_set = eval_set or (c["data"].get("eval_splits") or ["test"])[0]
        score = m["final"].get(eval_set)
        if score is None:
            continue
        seeds = cells.setdefault((c.get("name") or m["strategy"], _count(c)), {})
        seeds[c["train"]["seed"]] = {"f1_macro": score["f1_macro"], "accuracy": score["accuracy"]}
    counts = sorted({k for _, k in cells}, key=_order)
    rows = []
    for (method, count), seeds in sorted(cells.items(), key=lambda kv: (_order(kv[0][1]), kv[0][0])):
        rows.append({"method": method, "count": count, "seeds": sorted(seeds), "per_seed": [seeds[s] for s in sorted(seeds)],
                     "f1_macro": spread([seeds[s]["f1_macro"] for s in sorted(seeds)]),
                     "accuracy": spread([seeds[s]["accuracy"] for s in sorted(seeds)])})
    for count in counts:
        at = [r for r in rows if r["count"] == count]
        base = max((r for r in at if r["method"] in baselines()), key=lambda r: r["f1_macro"]["mean"], default=None)
        for r in at:
            if base is not None and r is not base:
                r["versus"] = {"method": base["method"], **paired(r, base)}
    return {"eval_set": eval_set, "counts": counts, "rows": rows, "crossing": crossing(rows, counts)}


def paired(row: dict, other: dict) -> dict:
    """`row` minus `other` over the seeds both ran: macro-F1 and accuracy, 95 % t intervals."""
    a, b = dict(zip(row["seeds"], row["per_seed"])), dict(zip(other["seeds"], other["per_seed"]))
    common = sorted(set(a) & set(b))
    return {k: t_interval([a[s][k] - b[s][k] for s in common]) for k in ("f1_macro", "accuracy")}


def _told_apart(d: dict) -> bool:
    return d["low"] is not None and (d["low"] > 0 or d["high"] < 0)


def crossing(rows: list[dict], counts: list) -> list[str]:
    """Per count, the best method by mean macro-F1 and the paired interval against each other method (which it is
    told apart from, which not); runs of counts with the same best method merged: where the methods cross."""
    best = []
    for count in counts:
        at = sorted((r for r in rows if r["count"] == count), key=lambda r: -r["f1_macro"]["mean"])
        if at:
            best.append((count, at[0]["method"], at[0]["f1_macro"]["mean"], _standing(at[0], at[1:])))
    lines, i = [], 0
    while i < len(best):
        j = i
        while j + 1 < len(best) and best[j + 1][1] == best[i][1]:
            j += 1
        detail = "; ".join(f"{c}: {f1:.3f}{', ' + how if how else ''}" for c, _, f1, how in best[i:j + 1])
        lines.append(f"{_span(best[i][0], best[j][0])}: **{best[i][1]}** is best ({detail})")
        i = j + 1
    return lines


def _standing(top: dict, others: list[dict]) -> str:
    """'ahead of every other method (closest: X +d [lo, hi])' or 'not told apart from X (+d [lo, hi]), ...'."""
    if not others:
        return ""
    gaps = [(o["method"], paired(top, o)["f1_macro"]) for o in others]
    tied = [f"{m} ({d['mean']:+.3f} {bracket(d)})".replace(" )", ")") for m, d in gaps if not _told_apart(d)]
    if tied:
        return "not told apart from " + ", ".join(tied)
    m, d = gaps[0]
    return f"ahead of every other method (closest: {m}, {d['mean']:+.3f} {bracket(d)} macro-F1)"


def _span(first, last) -> str:
    unit = "labels per class"
    if first == last:
        return f"At {first} {unit}" if first != ALL else "With every label"
    return f"From {first} to {last} {unit}" if last != ALL else f"From {first} {unit} to every label"


def markdown(table: dict) -> list[str]:
    lines = [f"## Label efficiency ({table['eval_set']} set)", "",
             "Each seed draws one labelled subset per count (`data.labelled_per_class`: that many per class to train, "
             "as many per class to validate), shared by every method. ± is the standard deviation over seeds; "
             f"[lo, hi] the paired 95 % interval against the best baseline at that count ({' or '.join(baselines())}, by "
             "mean macro-F1).", "",
             "| labels per class | method | seeds | macro-F1 | accuracy | macro-F1 vs best baseline | accuracy vs best baseline |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in table["rows"]:
        v = r.get("versus")
        if v:
            vs = (f"{v['f1_macro']['mean']:+.3f} {bracket(v['f1_macro'])} ({v['method']}) | "
                  f"{v['accuracy']['mean']:+.3f} {bracket(v['accuracy'])}")
        else:
            vs = "(the best baseline) | " if r["method"] in baselines() else " | "
        lines.append(f"| {r['count']} | {r['method']} | {len(r['seeds'])} | {mean_std(r['f1_macro'])} | {mean_std(r['accuracy'])} | "
                     f"{vs} |")
    return lines + ["", "**Where the methods cross** (best mean macro-F1 at each count):", "",
                    *[f"- {line}" for line in table["crossing"]], ""]


def plot(table: dict, path: Path) -> Path:
    """Macro-F1 against labels per class (log axis; every label at the right), the 95 % t interval of each mean."""
    plt = figures.pyplot()
    numeric = [c for c in table["counts"] if c != ALL]
    x_of = {c: c for c in numeric}
    if ALL in table["counts"]:
        x_of[ALL] = 2 * max(numeric) if numeric else 1
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method in dict.fromkeys(r["method"] for r in table["rows"]):
        rows = [r for r in table["rows"] if r["method"] == method]
        xs = [x_of[r["count"]] for r in rows]
        means = [r["f1_macro"]["mean"] for r in rows]
        halves = [_half(r) for r in rows]
        ax.errorbar(xs, means, yerr=halves, marker="o", capsize=3, label=method,
                    linestyle="--" if method in baselines() else "-")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(x_of.values()), [str(c) for c in x_of])
    ax.set_xlabel("labelled samples per class")
    ax.set_ylabel(f"macro-F1 ({table['eval_set']})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return figures.save(fig, path)


def _half(row: dict) -> float:
    """Half-width of the 95 % t interval of the mean over seeds (0 with one seed)."""
    s = t_interval([seed["f1_macro"] for seed in row["per_seed"]])
    return 0.0 if s["low"] is None else (s["high"] - s["low"]) / 2


def write_section(table: dict, runs: dict, out: Path) -> list[str]:
    """The report's label-efficiency section (markdown lines); the figure is written next to it."""
    plot(table, out / "label_efficiency.png")
    return markdown(table) + ["![label efficiency](label_efficiency.png)", ""]
