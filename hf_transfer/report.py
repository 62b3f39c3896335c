"""Reports: one run's results (report.md in its run directory), and runs side by side.

`compare(run_dirs, out, baseline=None)` reads each run's metrics.json and config.yaml and writes
`report.md` + `report.json` (+ a curves PNG): one row per run, accuracy and macro-F1 on every eval
set, and the gain over a baseline run (by default the first run trained from scratch, when there
is one: the transfer gain).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from . import rundir
from .errors import UserError


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def _plot_curves(runs: dict[str, dict], path: Path) -> Path | None:
    """Validation (or first eval set) accuracy per epoch, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    drawn = False
    for name, m in runs.items():
        history = m.get("history") or []
        if not history:
            continue
        split = "validation" if "validation" in history[0]["eval"] else next(iter(history[0]["eval"]))
        epochs = [h["epoch"] for h in history]
        axes[0].plot(epochs, [h["train_loss"] for h in history], marker="o", label=name)
        axes[1].plot(epochs, [h["eval"][split]["accuracy"] for h in history], marker="o", label=f"{name} ({split})")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    axes[0].set(title="train loss", xlabel="epoch")
    axes[1].set(title="eval accuracy", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_run_report(run_dir: str | Path, cfg, metrics: dict) -> Path:
    """report.md of one finished run: results, per-epoch history, per-class F1, timings."""
    run_dir = Path(run_dir)
    final = metrics["final"]
    lines = [f"# {metrics['name']}", "",
             f"{metrics['model']} ({metrics['library']}, strategy `{metrics['strategy']}`) on "
             f"{cfg.data.dataset}. Weights of epoch {metrics['selected_epoch']} ({metrics['selected_by']}).", "",
             "| eval set | samples | accuracy | macro-F1 | weighted-F1 | loss |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {k} | {m['num_samples']} | {_fmt(m['accuracy'])} | {_fmt(m['f1_macro'])} | "
              f"{_fmt(m['f1_weighted'])} | {_fmt(m['loss'])} |" for k, m in final.items()]
    sets = list(final)
    lines += ["", "## Per epoch", "", "| epoch | train loss | " + " | ".join(f"{s} acc" for s in sets) + " |",
              "|---:|---:|" + "---:|" * len(sets)]
    lines += [f"| {h['epoch']} | {h['train_loss']:.4f} | " + " | ".join(_fmt(h["eval"][s]["accuracy"]) for s in sets)
              + " |" for h in metrics["history"]]
    if _plot_curves({metrics["name"]: metrics}, run_dir / "curves.png"):
        lines += ["", "![training curves](curves.png)"]
    names = metrics["label_names"]
    lines += ["", "## Per-class F1", "", "| class | " + " | ".join(sets) + " |", "|---|" + "---:|" * len(sets)]
    lines += [f"| {n} | " + " | ".join(_fmt(final[s]["per_class_f1"][n]) for s in sets) + " |" for n in names]
    t = metrics["timings"]
    lines += ["", "## Time", "", f"{t['total_seconds']:.0f} s in all, {t['train_seconds']:.0f} s training "
              f"({t['train_samples_per_second']} samples/s), {t['eval_seconds']:.0f} s evaluating, on "
              f"{metrics['environment']['device']} x{metrics['environment']['num_processes']}; "
              f"{metrics['parameters']['trainable']:,} of {metrics['parameters']['total']:,} parameters trained.", ""]
    path = run_dir / rundir.REPORT
    path.write_text("\n".join(lines))
    return path


def load_run(run_dir: str | Path) -> tuple[dict, dict]:
    """(metrics, config dict) of a finished run."""
    run_dir = Path(run_dir)
    metrics_path = run_dir / rundir.METRICS
    if not metrics_path.is_file():
        raise UserError(f"{run_dir}: not a run directory (no {rundir.METRICS})")
    metrics = json.loads(metrics_path.read_text())
    if metrics.get("status") != "finished":
        raise UserError(f"{run_dir}: the run has not finished (status {metrics.get('status')!r}); resume it first")
    return metrics, yaml.safe_load((run_dir / rundir.CONFIG).read_text())


def comparison(runs: dict[str, tuple[dict, dict]], baseline: str | None = None) -> dict:
    """Rows of the comparison table, with the gain over the baseline run on every eval set."""
    if baseline is None:
        baseline = next((n for n, (_, c) in runs.items() if not c["model"]["pretrained"]), None)
    if baseline is not None and baseline not in runs:
        raise UserError(f"--baseline: no run named {baseline!r}; runs: {', '.join(runs)}")
    rows = []
    for name, (m, c) in runs.items():
        row = {"run": name, "model": m["model"], "pretrained": c["model"]["pretrained"], "strategy": m["strategy"],
               "dataset": c["data"]["dataset"], "seconds": m["timings"]["total_seconds"],
               "trainable_parameters": m["parameters"]["trainable"], "eval": {}}
        for split, s in m["final"].items():
            if split == "validation":
                continue
            cell = {"accuracy": s["accuracy"], "f1_macro": s["f1_macro"], "num_samples": s["num_samples"]}
            same_data = baseline and runs[baseline][1]["data"]["dataset"] == c["data"]["dataset"]
            base = runs[baseline][0]["final"].get(split) if same_data else None
            if base is not None and name != baseline:
                cell["gain_accuracy"] = s["accuracy"] - base["accuracy"]
                cell["gain_f1_macro"] = s["f1_macro"] - base["f1_macro"]
            row["eval"][split] = cell
        rows.append(row)
    return {"baseline": baseline, "rows": rows}


def compare(run_dirs: list[str | Path], out: str | Path, baseline: str | None = None) -> Path:
    """Write report.md + report.json (+ curves.png) comparing finished runs."""
    runs = {}
    for d in run_dirs:
        m, c = load_run(d)
        name = m["name"] if m["name"] not in runs else f"{m['name']} ({Path(d).name})"
        runs[name] = (m, c)
    table = comparison(runs, baseline)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(table, indent=2))
    lines = ["# Transfer report", ""]
    if table["baseline"]:
        lines += [f"Gain (in brackets) is over `{table['baseline']}` on the same eval set.", ""]
    lines += ["| run | model | pretrained | strategy | eval set | samples | accuracy | macro-F1 | time (s) |",
              "|---|---|---|---|---|---:|---:|---:|---:|"]
    for row in table["rows"]:
        for split, cell in row["eval"].items():
            gain = lambda k: f" ({cell['gain_' + k]:+.4f})" if "gain_" + k in cell else ""  # noqa: E731
            lines.append(f"| {row['run']} | {row['model']} | {'yes' if row['pretrained'] else 'no'} | {row['strategy']} "
                         f"| {split} | {cell['num_samples']} | {cell['accuracy']:.4f}{gain('accuracy')} | "
                         f"{cell['f1_macro']:.4f}{gain('f1_macro')} | {row['seconds']:.0f} |")
    if _plot_curves({n: m for n, (m, _) in runs.items()}, out / "curves.png"):
        lines += ["", "![training curves](curves.png)"]
    path = out / rundir.REPORT
    path.write_text("\n".join(lines) + "\n")
    return path


def results_table(report_json: str | Path) -> str:
    """A plain-text table of a comparison, for the terminal."""
    table = json.loads(Path(report_json).read_text())
    lines = [f"{'run':<22} {'eval set':<14} {'n':>5} {'accuracy':>9} {'macro-F1':>9} {'gain acc':>9} {'time s':>7}"]
    for row in table["rows"]:
        for split, c in row["eval"].items():
            gain = f"{c['gain_accuracy']:+.4f}" if "gain_accuracy" in c else ""
            lines.append(f"{row['run']:<22} {split:<14} {c['num_samples']:>5} {c['accuracy']:>9.4f} "
                         f"{c['f1_macro']:>9.4f} {gain:>9} {row['seconds']:>7.0f}")
    return "\n".join(lines)
