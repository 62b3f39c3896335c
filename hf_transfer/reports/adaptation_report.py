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

from pathlib import Path

from .. import run_folder
from ..intervals import bracket, mean_std, signed, spread
from ..strategies.baselines import CEILING, FLOOR
from ..strategies.registry import REPORT_SECTIONS
from .adaptation_figures import _first_runs, plot_confusions, plot_curves, plot_embeddings, plot_per_class
from .adaptation_stats import DEV, _share, adaptation_table

KEY = "adaptation"  # its part of report.json


def table(runs: dict) -> list[dict]:
    """The section's tables (one per source -> target pair and model), or [] when no run has a target domain."""
    return adaptation_table(runs)


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


def markdown_table(table: dict) -> list[str]:
    """The comparison table (shared by the report and the model cards); a target validation column where the runs
    carved one (data.target.validation_samples: the scores to choose a method or budget on)."""
    dev = any(r.get("target_validation_accuracy", {}).get("mean") is not None for r in table["rows"])
    head = ["method", "target labels read", "seeds", "source acc", "source macro-F1", "target acc", "target macro-F1"]
    head += [f"{DEV} acc (for choices)"] * dev + [
        "domain gap", f"gain over {FLOOR} (95% CI, paired)", "macro-F1 gain (95% CI, paired)", "gap closed (95% CI)",
        "A-distance", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 3) + "---|"]
    for r in table["rows"]:
        paired = r.get("paired") or {}
        closed, floor = r["method"] not in (FLOOR, CEILING), r["method"] == FLOOR
        cells = [run_folder.md_text(r["method"]), run_folder.md_text(r.get("reads_target_labels", "no")),
                 str(len(r["runs"])), mean_std(r["source_accuracy"], 4), mean_std(r["source_f1_macro"], 4), mean_std(r["target_accuracy"], 4),
                 mean_std(r["target_f1_macro"], 4)]
        cells += ([mean_std(r["target_validation_accuracy"], 4)] if dev else []) + [
            mean_std(r["gap"], 4),
            f"{'' if floor else signed(r['gain_accuracy'])} {bracket(paired.get('gain_accuracy'))}",
            f"{'' if floor else signed(r['gain_f1_macro'])} {bracket(paired.get('gain_f1_macro'))}",
            f"{signed(_share(r), pct=True)} {bracket(paired.get('gap_closed'), pct=True)}" if closed else " ",
            mean_std(r["a_distance"], 4), paired.get("verdict", "")]
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

        rows.append(f"| {run_folder.md_text(r['method'])} | " + " | ".join(mean_std(spread([f(m) for m in ms]), 4) for f in (
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
