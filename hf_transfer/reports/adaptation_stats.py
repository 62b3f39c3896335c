"""The numbers of the domain-adaptation report: runs with a target domain grouped by source -> target pair and
method (the run name; the seeds of one method share it), each method's mean and spread over seeds, its gain over
the floor paired by seed, the share of the gap to the ceiling it closes (with intervals), the target curve, and
the verdict. adaptation_report.py writes them as markdown; adaptation_figures.py draws them."""

from __future__ import annotations

import numpy as np

from ..intervals import bracket, row_bootstrap, signed, spread, t_interval
from ..strategies.baselines import CEILING, FLOOR, REPORT_ORDER

DEV = "target_validation"  # data.target.validation_samples: labelled target rows for choices across runs


def is_adaptation_run(metrics: dict) -> bool:
    return bool(metrics.get("domains"))


def _selected(m: dict) -> dict:
    return next(h for h in m["history"] if h["epoch"] == m["selected_epoch"])


def run_scores(m: dict) -> dict:
    """One run's source/target scores (from its metrics.json)."""
    d = m["domains"]
    src, tgt = m["final"][d["source"]], m["final"][d["target"]]
    return {"source_accuracy": src["accuracy"], "source_f1_macro": src["f1_macro"],
            "target_accuracy": tgt["accuracy"], "target_f1_macro": tgt["f1_macro"],
            "gap": src["accuracy"] - tgt["accuracy"], "a_distance": _selected(m).get("a_distance"),
            "target_collapsed": any(w.startswith(f"{d['target']}: collapsed") for w in m.get("warnings", [])),
            **{f"target_validation_{k}": m["final"].get(DEV, {}).get(k) for k in ("accuracy", "f1_macro")}}


def adaptation_table(runs: dict[str, tuple[dict, dict]]) -> list[dict]:
    """One table per source -> target pair: rows of methods with mean/std over seeds."""
    pairs: dict[tuple, dict[str, list]] = {}
    for run, (m, c, *_) in runs.items():
        if not is_adaptation_run(m):
            continue
        key = (c["data"]["dataset"], c["data"]["target"]["dataset"])
        pairs.setdefault(key, {}).setdefault(m["name"], []).append((run, m, c))
    tables = []
    for (source, target), methods in pairs.items():
        rows = []
        for name, items in sorted(methods.items(), key=lambda kv: (REPORT_ORDER.index(kv[0]) if kv[0] in REPORT_ORDER else 99, kv[0])):
            scores = [run_scores(m) for _, m, _ in items]
            names = items[0][1]["label_names"]
            row = {"method": name, "strategy": items[0][1]["strategy"], "model": items[0][1]["model"],
                   "reads_target_labels": target_labels_read(items[0][1]), "runs": [r for r, _, _ in items],
                   "selected_by": items[0][1].get("selected_by", "validation"),
                   "seeds": [c["train"]["seed"] for _, _, c in items], "per_run": scores,
                   "per_class_target": {n: [m["final"][m["domains"]["target"]]["per_class_f1"][n] for _, m, _ in items]
                                        for n in names}}
            for k in scores[0]:
                row[k] = spread([s[k] for s in scores])
            row["target_curve"] = target_curve([m for _, m, _ in items])
            rows.append(row)
        by_name = {r["method"]: r for r in rows}
        floor, ceiling = by_name.get(FLOOR), by_name.get(CEILING)
        for row in rows:
            mean = row["target_accuracy"]["mean"]
            row["gain_accuracy"] = mean - floor["target_accuracy"]["mean"] if floor else None
            row["gain_f1_macro"] = row["target_f1_macro"]["mean"] - floor["target_f1_macro"]["mean"] if floor else None
            span = ceiling["target_accuracy"]["mean"] - floor["target_accuracy"]["mean"] if floor and ceiling else None
            row["gap_closed"] = row["gain_accuracy"] / span if span and abs(span) > 1e-9 else None
            if floor and row is not floor:
                row["paired"] = paired_gain(row, floor, ceiling)
                row["paired"]["gain_accuracy_rows"] = _rows_gain(row, floor, runs)
        _add_last_epoch(rows, methods)
        model = (by_name.get(FLOOR) or rows[0])["model"]
        tables.append({"source": source, "target": target, "model": model, "rows": rows,
                       "selected_by": (by_name.get(FLOOR) or rows[0])["selected_by"],
                       "label_names": items[0][1]["label_names"]})
    return tables


def _rows_gain(row: dict, floor: dict, runs: dict) -> dict | None:
    """The target-accuracy gain over source_only with a bootstrap over the target test rows (seeds fixed; each
    seed's two runs scored the same rows), from the runs' predictions.npz; None where a run has none."""
    from ..run_folder import load_predictions

    def correct(run: str):
        m, _, *rest = runs[run]
        folder = rest[0] if rest else None  # runs may come without their folders (a card of one run, tests)
        saved = load_predictions(folder, m["domains"]["target"]) if folder is not None else None
        return None if saved is None else saved[0] == saved[1]

    mine, base = dict(zip(row["seeds"], row["runs"])), dict(zip(floor["seeds"], floor["runs"]))
    pairs = [(correct(mine[s]), correct(base[s])) for s in sorted(set(mine) & set(base))]
    if not pairs or any(a is None or b is None for a, b in pairs):
        return None
    return row_bootstrap(pairs)


def target_labels_read(m: dict) -> str:
    """How a run read target labels by design ("no" for never): training (target_finetune, oracle), priors
    (mlls given the true ones). Runs written before the field existed: from what they trained on."""
    if m.get("reads_target_labels"):
        return m["reads_target_labels"]
    return "no" if m.get("train_on", "source") == "source" or "reads_target_labels" in m else f"training ({m['train_on']})"


def _add_last_epoch(rows: list[dict], methods: dict[str, list]) -> None:
    """For every method that trained (a curve of 2+ epochs), its scores at the last epoch beside those at
    the selected one (the best source validation score), paired with source_only's last epoch: does
    the selection, made without target labels, help or hurt on the target? (row["last_epoch"])"""
    last = {}
    for row in rows:
        ms = [m for _, m, _ in methods[row["method"]]]
        if len(ms[0]["history"]) < 2:
            continue
        per_run = [{k: m["history"][-1]["eval"][m["domains"]["target"]][k.removeprefix("target_")]
                    for k in ("target_accuracy", "target_f1_macro")} for m in ms]
        last[row["method"]] = {**row, "per_run": per_run, "selected_epochs": [m["selected_epoch"] for m in ms],
                               "last_epochs": [m["history"][-1]["epoch"] for m in ms]}
    floor, ceiling = last.get(FLOOR), last.get(CEILING)
    for row in rows:
        if row["method"] in last:
            mine = last[row["method"]]
            row["last_epoch"] = {"selected_epochs": mine["selected_epochs"], "last_epochs": mine["last_epochs"],
                                 "target_accuracy": spread([s["target_accuracy"] for s in mine["per_run"]]),
                                 "paired": paired_gain(mine, floor, ceiling) if floor and mine is not floor else None}


def target_curve(metrics: list[dict]) -> list[dict]:
    """Target accuracy after each epoch (mean ± std over the runs that reached it), with the step it was measured
    at: the budget curve, on the target validation rows where every run has them, else on the target test set.
    Empty for runs without a training loop (one entry)."""
    by_epoch: dict[int, list] = {}
    on = DEV if all(DEV in m.get("final", {}) for m in metrics) else None
    for m in metrics:
        if len(m["history"]) < 2:
            return []
        for h in m["history"]:
            by_epoch.setdefault(h["epoch"], []).append((h["step"], h["eval"][on or m["domains"]["target"]]["accuracy"]))
    return [{"epoch": e, "step": max(s for s, _ in v), "accuracy": spread([a for _, a in v]), "on": on or "target"}
            for e, v in sorted(by_epoch.items())]


SMALL_GAP = 0.05  # a seed whose source_only is this close to its oracle barely has a gap to close


def gap_closed(gains: list[float], spans: list[float], draws: int = 10_000, seed: int = 0) -> dict | None:
    """The share of the source_only -> oracle gap a method closes over paired seeds: the ratio of the mean gain to
    the mean gap (a seed whose gap is near 0 cannot swing it, as it swings a mean of per-seed shares), with a 95 %
    percentile-bootstrap interval that resamples the seeds with their pairs."""
    gains, spans = np.asarray(gains, dtype=float), np.asarray(spans, dtype=float)
    if not len(spans) or abs(spans.mean()) < 1e-9:
        return None
    out = {"mean": float(gains.mean() / spans.mean()), "low": None, "high": None, "n": len(spans)}
    if len(spans) >= 2:
        pick = np.random.default_rng(seed).integers(0, len(spans), (draws, len(spans)))
        g, s = gains[pick].mean(1), spans[pick].mean(1)
        ratios = g[np.abs(s) > 1e-9] / s[np.abs(s) > 1e-9]
        out["low"], out["high"] = (float(v) for v in np.percentile(ratios, [2.5, 97.5]))
    return out


def paired_gain(row: dict, floor: dict, ceiling: dict | None) -> dict:
    """The method against source_only on the same seeds: the target-accuracy gain (95 % t interval) and, with an
    oracle of the same seed, the share of the source_only -> oracle gap closed (`gap_closed`), and a verdict in
    plain words whose direction is the gain's interval's; seeds whose gap is under SMALL_GAP are named."""
    by_seed = lambda r: dict(zip(r["seeds"], r["per_run"]))  # noqa: E731
    mine, base = by_seed(row), by_seed(floor)
    top = by_seed(ceiling) if ceiling else {}
    seeds = sorted(set(mine) & set(base))
    gains = [mine[s]["target_accuracy"] - base[s]["target_accuracy"] for s in seeds]
    f1_gains = [mine[s]["target_f1_macro"] - base[s]["target_f1_macro"] for s in seeds]
    with_top = [s for s in seeds if s in top]
    spans = {s: top[s]["target_accuracy"] - base[s]["target_accuracy"] for s in with_top}
    gain, f1 = t_interval(gains), t_interval(f1_gains)
    share = gap_closed([mine[s]["target_accuracy"] - base[s]["target_accuracy"] for s in with_top],
                       list(spans.values())) if with_top and row["method"] != CEILING else None
    small = [s for s in with_top if spans[s] < SMALL_GAP]
    if gain["n"] < 2:
        verdict = f"{len(seeds)} paired seed(s): no interval"
    elif gain["low"] <= 0 <= gain["high"]:
        verdict = f"not distinguishable from {FLOOR} ({gain['n']} seeds)"
    else:
        verdict = f"{'better' if gain['mean'] > 0 else 'worse'} than {FLOOR}: {gain['mean']:+.3f} {bracket(gain)} target accuracy"
        if share is not None and share["low"] is not None:
            verdict += f", {signed(share['mean'], True)} {bracket(share, True)} of the gap to {CEILING}"
    if gain["n"] >= 2 and gain["low"] > 0 and f1["mean"] < 0:  # accuracy bought with the rare classes
        verdict += f", but macro-F1 {f1['mean']:+.3f} {bracket(f1)}"
    collapsed = sum(bool(mine[s].get("target_collapsed")) for s in seeds)
    if collapsed:
        verdict += f"; collapsed to one class on {collapsed} of {len(seeds)} seeds"
    if small and share is not None:
        verdict += (f"; seed{'s' if len(small) > 1 else ''} {', '.join(map(str, small))}: {FLOOR} within "
                    f"{SMALL_GAP} of {CEILING}, little gap to close")
    return {"seeds": seeds, "gain_accuracy": gain, "gain_f1_macro": f1, "gap_closed": share,
            "small_gap_seeds": small, "verdict": verdict}


def _share(row: dict) -> float | None:
    """The gap closed as the table prints it: over the seeds paired with an oracle (the estimate its interval
    and the verdict use) when there are any, else the share of the mean gain."""
    share = (row.get("paired") or {}).get("gap_closed")
    return share["mean"] if share else row["gap_closed"]
