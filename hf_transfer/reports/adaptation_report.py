"""The domain-adaptation report: which method closes the gap between source and target?

Runs with a target domain (`data.target`, metrics.json `domains`) are grouped by source -> target
pair and method (the run name; several seeds of one method share it). For each method, mean and
standard deviation over seeds of:

    source / target accuracy and macro-F1      on the source test set and the target test set
    domain gap                                  source accuracy - target accuracy
    gain over source_only                       target accuracy - source_only's (difference of means)
    gap closed                                  mean gain / mean (oracle's - source_only's) over paired seeds
    A-distance                                  proxy A-distance of the selected epoch's features

and the figures: target / source accuracy per epoch, per-class F1 on the target, target confusion
matrices, and a 2-D t-SNE of source vs target test features of each method (source_only's is the
picture before adaptation).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import run_folder
from ..intervals import bracket, mean_std, pm, row_bootstrap, signed, spread, t_interval
from ..strategies.baselines import CEILING, FLOOR, REPORT_ORDER
from ..strategies.registry import REPORT_SECTIONS
from . import figures

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


def row_lines(table: dict) -> list[str]:
    """The gains over source_only again, with the interval a bootstrap over the target test rows gives."""
    rows = [r for r in table["rows"] if (r.get("paired") or {}).get("gain_accuracy_rows")]
    if not rows:
        return []
    first = rows[0]["paired"]["gain_accuracy_rows"]
    return [f"Gain over `{FLOOR}` with the test rows resampled instead of the seeds (the {first['rows']} target test "
            f"rows, {first['draws']:,} paired draws, each seed's runs on the same rows; what the test set's size alone "
            "leaves uncertain): " + "; ".join(f"{r['method']} {r['paired']['gain_accuracy_rows']['mean']:+.3f} "
                                       f"{bracket(r['paired']['gain_accuracy_rows'])}" for r in rows) + ".", ""]


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


def selection_lines(table: dict) -> list[str]:
    """The model-selection check as a table: target accuracy at the selected and at the last epoch."""
    rows = [r for r in table["rows"] if r.get("last_epoch")]
    if not rows or not any(r["last_epoch"]["paired"] for r in rows):
        return []
    lines = ["Model selection, checked with the target labels: each run keeps the epoch of its best score on the "
             f"source validation split ({table.get('selected_by', 'train.metric_for_best')}); beside it, the last "
             f"epoch, paired with `{FLOOR}`'s last epoch.", "",
             "| method | selected epoch per seed | target acc, selected | target acc, last epoch | "
             "gain at the last epoch (95% CI) | gap closed at the last epoch (95% CI) |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        le, p = r["last_epoch"], r["last_epoch"]["paired"]
        gain = f"{signed(p['gain_accuracy']['mean'])} {bracket(p['gain_accuracy'])}" if p else ""
        share = f"{signed(p['gap_closed']['mean'], True)} {bracket(p['gap_closed'], True)}" \
            if p and p["gap_closed"] and r["method"] != CEILING else ""
        lines.append(f"| {r['method']} | {' '.join(map(str, le['selected_epochs']))} of {max(le['last_epochs'])} | "
                     f"{mean_std(r['target_accuracy'])} | {mean_std(le['target_accuracy'])} | {gain} | {share} |")
    return lines + [""]


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


def curve_lines(table: dict) -> list[str]:
    """The budget curve as a table (methods x epochs), and the methods still rising at their last epoch."""
    rows = [r for r in table["rows"] if r.get("target_curve")]
    if not rows:
        return []
    epochs = sorted({p["epoch"] for r in rows for p in r["target_curve"]})
    on_dev = all(p.get("on") == DEV for r in rows for p in r["target_curve"])
    what = (f"Target validation accuracy (`{DEV}`: labelled target rows no method trains on, for choosing a budget)"
            if on_dev else "Target test accuracy (read with the target test labels: a budget chosen from it is "
                           "chosen on the test set; set data.target.validation_samples to choose on held-out rows)")
    lines = [f"{what} after each epoch (mean ± std over seeds; step in brackets): the budget curve.", "",
             "| method | " + " | ".join(f"epoch {e}" for e in epochs) + " |", "|---|" + "---:|" * len(epochs)]
    rising = []
    for r in rows:
        at = {p["epoch"]: p for p in r["target_curve"]}
        lines.append(f"| {r['method']} | " + " | ".join(
            f"{mean_std(at[e]['accuracy'])} ({at[e]['step']})" if e in at else "" for e in epochs) + " |")
        means = [p["accuracy"]["mean"] for p in r["target_curve"]]
        if len(means) > 1 and means[-1] >= max(means) and means[-1] - means[-2] > 0.01:
            rising.append(r["method"])
    if rising:
        lines += ["", f"Still rising at the last epoch: {', '.join(rising)} (more steps may pay off)."]
    return lines + [""]


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


def markdown_table(table: dict) -> list[str]:
    """The comparison table (shared by the report and the model cards); a target validation column where the runs
    carved one (data.target.validation_samples: the scores to choose a method or budget on)."""
    dev = any(r.get("target_validation_accuracy", {}).get("mean") is not None for r in table["rows"])
    head = ["method", "target labels read", "seeds", "source acc", "source macro-F1", "target acc", "target macro-F1"]
    head += [f"{DEV} acc (for choices)"] * dev + [
        "domain gap", "gain over source_only (95% CI, paired)", "macro-F1 gain (95% CI, paired)", "gap closed (95% CI)",
        "A-distance", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 3) + "---|"]
    for r in table["rows"]:
        paired = r.get("paired") or {}
        closed, floor = r["method"] not in (FLOOR, CEILING), r["method"] == FLOOR
        cells = [run_folder.md_text(r["method"]), run_folder.md_text(r.get("reads_target_labels", "no")),
                 str(len(r["runs"])), pm(r["source_accuracy"]), pm(r["source_f1_macro"]), pm(r["target_accuracy"]),
                 pm(r["target_f1_macro"])]
        cells += ([pm(r["target_validation_accuracy"])] if dev else []) + [
            pm(r["gap"]),
            f"{'' if floor else signed(r['gain_accuracy'])} {bracket(paired.get('gain_accuracy'))}",
            f"{'' if floor else signed(r['gain_f1_macro'])} {bracket(paired.get('gain_f1_macro'))}",
            f"{signed(_share(r), pct=True)} {bracket(paired.get('gap_closed'), pct=True)}" if closed else " ",
            pm(r["a_distance"]), paired.get("verdict", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def calibration_lines(table: dict, runs: dict) -> list[str]:
    """Per method: whether its probabilities held under the shift (ECE on source and target test sets, before and
    after temperature scaling fitted on source validation) and how well its scores tell target rows from source
    rows (AUROC), mean ± std over seeds. Target labels are read here for the ECE only, never by a method."""
    rows = []
    for r in table["rows"]:
        ms = [runs[run][0] for run in r["runs"] if runs[run][0].get("calibration", {}).get("sets")]
        if not ms:
            continue
        d = ms[0]["domains"]

        def ece(m, where, when):
            return m["calibration"]["sets"][d[where]][when]["ece"]

        def ood(m, score):
            return m["calibration"].get("ood", {}).get(d["target"], {}).get(score)

        rows.append(f"| {run_folder.md_text(r['method'])} | " + " | ".join(pm(spread([f(m) for m in ms])) for f in (
            lambda m: ece(m, "source", "before"), lambda m: ece(m, "source", "after"),
            lambda m: ece(m, "target", "before"), lambda m: ece(m, "target", "after"),
            lambda m: ood(m, "msp"), lambda m: ood(m, "energy"), lambda m: ood(m, "mahalanobis"))) + " |")
    if not rows:
        return []
    return ["Calibration under the shift (ECE, 15 bins of equal mass; *after*: with the temperature fitted on source "
            "validation) and out-of-distribution detection (AUROC of telling target test rows from source test rows; "
            "0.5: cannot), mean ± std over seeds:", "",
            "| method | source ECE before | source ECE after | target ECE before | target ECE after | AUROC MSP "
            "| AUROC energy | AUROC Mahalanobis |", "|---|---:|---:|---:|---:|---:|---:|---:|", *rows, ""]


# ----------------------------------------------------------------------------------------------
# Figures



def _first_runs(table: dict, runs: dict) -> list[tuple[str, dict, Path]]:
    """(method, metrics, run dir) of each method's first seed."""
    return [(r["method"], runs[r["runs"][0]][0], runs[r["runs"][0]][2]) for r in table["rows"]]


def plot_curves(table: dict, runs: dict, path: Path) -> None:
    """Source and target test accuracy per epoch, every run (seeds as separate lines)."""
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    colors = plt.get_cmap("tab10")
    for i, r in enumerate(table["rows"]):
        for j, run in enumerate(r["runs"]):
            m = runs[run][0]
            d = m["domains"]
            epochs = [h["epoch"] for h in m["history"]]
            label = r["method"] if j == 0 else None
            axes[0].plot(epochs, [h["train_loss"] for h in m["history"]], color=colors(i), marker="o", label=label)
            axes[1].plot(epochs, [h["eval"][d["source"]]["accuracy"] for h in m["history"]], color=colors(i),
                         marker="o", label=label)
            axes[2].plot(epochs, [h["eval"][d["target"]]["accuracy"] for h in m["history"]], color=colors(i),
                         marker="o", label=label)
    for ax, title in zip(axes, ("train loss", "source test accuracy", "target test accuracy")):
        ax.set(title=title, xlabel="epoch")
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    figures.save(fig, path, dpi=100)


def plot_per_class(table: dict, path: Path) -> None:
    """Target per-class F1 (mean over seeds), one bar per method."""
    plt = figures.pyplot()
    names, rows = table["label_names"], table["rows"]
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.9 * len(names) * max(1, len(rows)) / 3)), 3.8))
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        values = [np.mean(r["per_class_target"][n]) for n in names]
        ax.bar(np.arange(len(names)) + i * width, values, width, label=r["method"])
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set(title="per-class F1 on the target test set", ylabel="F1", ylim=(0, 1))
    ax.legend(fontsize=8, ncol=min(4, len(rows)))
    ax.grid(alpha=0.3, axis="y")
    figures.save(fig, path, dpi=100)


def plot_confusions(table: dict, firsts: list, path: Path) -> None:
    """Row-normalised target confusion matrices (first seed of each method)."""
    plt = figures.pyplot()
    n = len(firsts)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    names = table["label_names"]
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (method, m, _) in zip(axes.flat, firsts):
        cm = np.asarray(m["final"][m["domains"]["target"]]["confusion_matrix"], dtype=float)
        cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        ax.set(title=method, xlabel="predicted", ylabel="true")
        ticks = range(len(names))
        ax.set_xticks(ticks, [x[:6] for x in names], fontsize=7, rotation=90)
        ax.set_yticks(ticks, [x[:6] for x in names], fontsize=7)
    fig.suptitle("target confusion matrices (rows: true class, normalised)")
    figures.save(fig, path, dpi=100)


def embed_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE (after PCA to 50 dimensions) of standardised features."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    x = PCA(n_components=min(50, *x.shape), random_state=seed).fit_transform(x)
    return TSNE(n_components=2, init="pca", perplexity=min(30, (len(x) - 1) / 3), max_iter=500,
                random_state=seed).fit_transform(x)


def plot_embeddings(firsts: list, path: Path, per_domain: int = 200) -> bool:
    """t-SNE of source (blue) vs target (orange) test features of each method's first seed."""
    found = [(method, np.load(d / run_folder.FEATURES)) for method, _, d in firsts if (d / run_folder.FEATURES).is_file()]
    if not found:
        return False
    plt = figures.pyplot()
    cols = min(4, len(found))
    rows = math.ceil(len(found) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.flat[len(found):]:
        ax.axis("off")
    for ax, (method, f) in zip(axes.flat, found):
        xs, xt = f["source_features"][:per_domain], f["target_features"][:per_domain]
        z = embed_2d(np.concatenate([xs, xt]))
        ax.scatter(*z[: len(xs)].T, s=4, alpha=0.6, label="source")
        ax.scatter(*z[len(xs):].T, s=4, alpha=0.6, label="target")
        ax.set(title=method + (" (before adaptation)" if method == FLOOR else ""), xticks=[], yticks=[])
    axes.flat[0].legend(fontsize=8, markerscale=3)
    fig.suptitle("t-SNE of source vs target test features")
    figures.save(fig, path, dpi=100)
    return True


def write_section(tables: list[dict], runs: dict[str, tuple[dict, dict, Path]], out: Path) -> list[str]:
    """The report's domain-adaptation section (markdown lines); figures are written next to it."""
    lines = ["## Domain adaptation", "",
             "Mean ± standard deviation over seeds; [low, high]: a 95 % interval. Domain gap: source accuracy - target "
             f"accuracy. Gain: target accuracy - `{FLOOR}`'s on the same seed (t interval over seeds). Gap closed: the "
             f"mean gain over the mean `{CEILING}` - `{FLOOR}` target accuracy of the same seeds (percentile-bootstrap "
             "interval over seeds). Target labels read: how a method reads target labels by design (training, priors); "
             "every other method never reads them, its epoch chosen on the source validation split. "
             "A-distance: proxy A-distance (2(1 - 2 err) of a linear domain classifier) on the source and target "
             "test features of the selected epoch; lower means the domains look more alike to the model.", ""]
    for i, table in enumerate(tables):
        stem = f"adaptation{i + 1 if len(tables) > 1 else ''}"
        lines += [f"### {table['source']} -> {table['target']} ({table['model']})", ""] + markdown_table(table) + [""]
        lines += row_lines(table)
        lines += [line for section in REPORT_SECTIONS for line in section(table, runs)] + calibration_lines(table, runs)
        lines += curve_lines(table) + selection_lines(table)
        missing = [m for m in (FLOOR, CEILING) if m not in {r["method"] for r in table["rows"]}]
        if missing:
            lines += [f"No `{'` / `'.join(missing)}` run in this report: gain / gap closed are left blank.", ""]
        firsts = _first_runs(table, runs)
        plot_curves(table, runs, out / f"{stem}_curves.png")
        plot_per_class(table, out / f"{stem}_per_class_f1.png")
        plot_confusions(table, firsts, out / f"{stem}_confusion.png")
        lines += [f"![accuracy per epoch]({stem}_curves.png)", "", f"![per-class F1 on the target]({stem}_per_class_f1.png)",
                  "", f"![target confusion matrices]({stem}_confusion.png)", ""]
        if plot_embeddings(firsts, out / f"{stem}_embedding.png"):
            lines += [f"![t-SNE of source vs target features]({stem}_embedding.png)", ""]
    return lines
