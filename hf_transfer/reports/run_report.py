"""Reports: one run's results (report.md in its run directory), and runs side by side.

`compare(run_dirs, out, baseline=None)` reads each run's metrics.json and config.yaml and writes
`report.md`, a self-contained `report.html` (images inlined) and `report.json` (+ PNG figures):
one row per run, accuracy and macro-F1 on every eval set, and the gain over a baseline run (by
default the first run trained from scratch, when there is one: the transfer gain). Runs with a
target domain also get the domain-adaptation section (`adaptation_report`).
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import yaml

from .. import run_folder, tasks
from ..errors import UserError
from ..intervals import num
from ..strategies.registry import baselines
from . import adaptation_report, calibration_report, figures, label_efficiency_report

# the sections a comparison report may hold before its table of all runs, listed once: a new section is a module
# with KEY (its part of report.json), table(runs) (None or [] when it does not apply) and write_section(table, runs, out)
SECTIONS = (adaptation_report, label_efficiency_report)


def _plot_curves(runs: dict[str, dict], path: Path) -> Path | None:
    """Validation (or first eval set) score per epoch (the task's first headline metric), one line per run."""
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    drawn, title = False, ""
    for name, m in runs.items():
        history = m.get("history") or []
        if not history:
            continue
        key, title, _ = tasks.of_metrics(m).headline[0]
        split = "validation" if "validation" in history[0]["eval"] else next(iter(history[0]["eval"]))
        epochs = [h["epoch"] for h in history]
        axes[0].plot(epochs, [h["train_loss"] for h in history], marker="o", label=name)
        axes[1].plot(epochs, [h["eval"][split][key] for h in history], marker="o", label=f"{name} ({split})")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    axes[0].set(title="train loss", xlabel="epoch")
    axes[1].set(title=f"eval {title}", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return figures.save(fig, path)


def per_class_table(final: dict, names: list[str]) -> list[str]:
    """Markdown rows of per-class F1, a column per eval set of `final`; 'absent' where a set has no sample of it."""
    md = run_folder.md_text
    return ["| class | " + " | ".join(map(md, final)) + " |", "|---|" + "---:|" * len(final),
            *(f"| {md(n)} | " + " | ".join("absent" if n in m.get("absent_classes", ()) else num(m["per_class_f1"][n])
                                          for m in final.values()) + " |" for n in names)]


def scores_table(final: dict, task) -> list[str]:
    """Markdown rows of a run's (or an evaluation's) results: the task's metrics, one row per eval set."""
    md = run_folder.md_text
    return ["| eval set | samples | " + " | ".join(title for _, title in task.table) + " |",
            "|---|---:|" + "---:|" * len(task.table),
            *(f"| {md(k)} | {m['num_samples']} | " + " | ".join(num(m.get(key)) for key, _ in task.table) + " |"
              for k, m in final.items())]


def task_sections(metrics: dict, run_dir: Path) -> list[str]:
    """Per class or label (F1; precision, recall and support of a multi-label model's tags, with its thresholds),
    and a regression model's predicted-against-true figure."""
    final, names, lines = metrics["final"], metrics["label_names"], []
    if all("per_class_f1" in m for m in final.values()):
        lines += ["", "## Per-class F1", "", "Macro-F1 averages over the classes present in a set's labels or "
                  "predictions; a class a set has no sample of is marked *absent* (its F1 there means nothing).", "",
                  *per_class_table(final, names)]
    tested = next((k for k in final if k != "validation"), next(iter(final)))
    if "per_label" in final[tested]:
        md, thresholds = run_folder.md_text, (metrics.get("calibration") or {}).get("thresholds") or {}
        lines += ["", f"## Per label ({md(tested)})", "", "Decision thresholds chosen on the validation split (best F1 "
                  "per label; 0.5 without one) and saved with the model.", "",
                  "| label | threshold | F1 | precision | recall | support |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {md(n)} | {num(thresholds.get(n), '.2f')} | {num(s['f1'])} | {num(s['precision'])} | "
                  f"{num(s['recall'])} | {s['support']} |" for n, s in final[tested]["per_label"].items()]
    if "scatter" in tasks.of_metrics(metrics).figures and figures.regression_plot(run_dir, tested):
        lines += ["", f"![predicted against true, and the residuals ({run_folder.md_text(tested)})](regression.png)"]
    return lines


def write_run_report(run_dir: str | Path, cfg, metrics: dict) -> Path:
    """report.md of one finished run: results, per-epoch history, per-class F1, timings."""
    run_dir = Path(run_dir)
    final, md, task = metrics["final"], run_folder.md_text, tasks.of_metrics(metrics)
    lines = [f"# {md(metrics['name'])}", "",
             f"{md(metrics['model'])} ({metrics['library']}, strategy `{metrics['strategy']}`) on "
             f"{md(cfg.data.dataset)}. Weights of epoch {metrics['selected_epoch']} ({metrics['selected_by']}).", "",
             *(f"**Warning:** {md(w)}" for w in metrics.get("warnings", [])), *([""] if metrics.get("warnings") else []),
             *scores_table(final, task)]
    sets, (key, _, short) = list(final), task.headline[0]
    lines += ["", "## Per epoch", "", "| epoch | train loss | " + " | ".join(f"{md(s)} {short}" for s in sets) + " |",
              "|---:|---:|" + "---:|" * len(sets)]
    lines += [f"| {h['epoch']} | {num(h['train_loss'])} | " + " | ".join(num(h["eval"].get(s, {}).get(key)) for s in sets)
              + " |" for h in metrics["history"]]
    if _plot_curves({metrics["name"]: metrics}, run_dir / "curves.png"):
        lines += ["", "![training curves](curves.png)"]
    lines += task_sections(metrics, run_dir)
    lines += calibration_report.section(metrics, run_dir)
    t = metrics["timings"]
    lines += ["", "## Time", "", f"{t['total_seconds']:.0f} s in all, {t['train_seconds']:.0f} s training "
              f"({t['train_samples_per_second']} samples/s), {t['eval_seconds']:.0f} s evaluating, on "
              f"{metrics['environment']['device']} x{metrics['environment']['num_processes']}; "
              f"{metrics['parameters']['trainable']:,} of {metrics['parameters']['total']:,} parameters trained.", ""]
    memory = [f"{name} {t[key]:,.0f} MB" for name, key in (("host", "peak_host_memory_mb"), ("GPU", "peak_gpu_memory_mb"))
              if t.get(key) is not None]
    if memory:
        lines[-1:-1] = [f"Peak memory: {', '.join(memory)}."]
    path = run_dir / run_folder.REPORT
    path.write_text("\n".join(lines))
    write_html(path, run_dir / "report.html")
    return path


def load_run(run_dir: str | Path) -> tuple[dict, dict]:
    """(metrics, config dict) of a finished run."""
    run_dir = Path(run_dir)
    metrics_path = run_dir / run_folder.METRICS
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    if metrics.get("status") == "diverged":
        raise UserError(f"{run_dir}: the run diverged, so it has no model to report: {metrics.get('message', '')}")
    if metrics.get("status") == "finished":
        return metrics, yaml.safe_load((run_dir / run_folder.CONFIG).read_text())
    checkpoint = run_folder.latest_checkpoint(run_dir)
    if checkpoint is not None and (run_dir / run_folder.CONFIG).is_file():  # stopped, interrupted or killed
        saved = yaml.safe_load((run_dir / run_folder.CONFIG).read_text()) or {}
        more = " --set train.stop_after_steps=null" if saved.get("train", {}).get("stop_after_steps") else ""
        raise UserError(f"{run_dir}: the run stopped before finishing (last checkpoint: {checkpoint.name}); continue "
                        f"it with `hf-transfer run {run_dir / run_folder.CONFIG} --resume{more}`, then report")
    if metrics:
        raise UserError(f"{run_dir}: the run has not finished (status {metrics.get('status')!r}) and has no "
                        "checkpoint to resume from")
    raise UserError(f"{run_dir}: not a run directory (no {run_folder.METRICS})")


def comparison(runs: dict[str, tuple[dict, dict]], baseline: str | None = None) -> dict:
    """Rows of the comparison table, with the gain over the baseline run on every eval set."""
    if baseline is None:
        baseline = next((n for n, (_, c, *_) in runs.items() if not c["model"]["pretrained"]), None)
    if baseline is not None and baseline not in runs:
        raise UserError(f"--baseline: no run named {baseline!r}; runs: {', '.join(runs)}")
    classic = {name: (m["strategy"], c) for name, (m, c, *_) in runs.items() if m["strategy"] in baselines()}
    kinds = {tasks.of_metrics(m).name for m, *_ in runs.values()}
    if len(kinds) > 1:
        raise UserError(f"the runs predict different things (tasks {', '.join(sorted(kinds))}); report each task apart")
    task = tasks.of_metrics(next(iter(runs.values()))[0])
    keys = [key for key, _, _ in task.headline]
    rows = []
    for name, (m, c, *_) in runs.items():
        row = {"run": name, "model": m["model"], "pretrained": c["model"]["pretrained"], "strategy": m["strategy"],
               "dataset": c["data"]["dataset"], "seconds": m["timings"]["total_seconds"],
               "trainable_parameters": m["parameters"]["trainable"], "eval": {}}
        for split, s in m["final"].items():
            if split == "validation":
                continue
            cell = {**{k: s[k] for k in keys}, "num_samples": s["num_samples"]}
            same_data = baseline and runs[baseline][1]["data"]["dataset"] == c["data"]["dataset"]
            base = runs[baseline][0]["final"].get(split) if same_data else None
            if base is not None and name != baseline:
                cell.update({f"gain_{k}": s[k] - base[k] for k in keys})
            over = {b: runs[r][0]["final"][split] for b, r in _paired(c, classic).items()
                    if r != name and split in runs[r][0]["final"]}
            if over:
                cell["gain_over"] = {b: {k: s[k] - o[k] for k in keys} for b, o in over.items()}
            row["eval"][split] = cell
        rows.append(row)
    return {"baseline": baseline, "classic_baselines": sorted({b for b, _ in classic.values()}), "rows": rows,
            "task": task.name, "headline": [list(h) for h in task.headline]}


def _paired(config: dict, classic: dict[str, tuple[str, dict]]) -> dict[str, str]:
    """{baseline strategy: its run} to measure a run against: on the same dataset, and of the same labelled
    subset and seed where the runs hold several (a curve over counts and seeds); none where that is ambiguous."""
    def key(c: dict) -> tuple:
        return c["data"].get("labelled_per_class"), c["train"].get("seed")

    out = {}
    for b in {b for b, _ in classic.values()}:
        same = [r for r, (s, c) in classic.items() if s == b and c["data"]["dataset"] == config["data"]["dataset"]]
        paired = [r for r in same if key(classic[r][1]) == key(config)]
        if len(paired) == 1 or len(same) == 1:
            out[b] = paired[0] if len(paired) == 1 else same[0]
    return out


def load_runs(run_dirs: list[str | Path]) -> dict[str, tuple[dict, dict, Path]]:
    """{unique run name: (metrics, config, run dir)}; runs of one name get as many of their folders' names added
    as tell them all apart (`setfit (seed1)`, or `setfit (n2/seed1)` when the counts differ too)."""
    loaded = [(*load_run(d), Path(d)) for d in run_dirs]
    groups: dict[str, list[int]] = {}
    for i, (m, _, _) in enumerate(loaded):
        groups.setdefault(m["name"], []).append(i)
    names = {}
    for name, members in groups.items():
        parts = [loaded[i][2].resolve().parts for i in members]
        depth = 0
        while len(members) > 1 and len({p[-depth:] if depth else () for p in parts}) < len(members) and depth < max(map(len, parts)):
            depth += 1
        for i, p in zip(members, parts):
            names[i] = f"{name} ({'/'.join(p[-depth:])})" if depth else name
    if len(set(names.values())) < len(loaded):
        raise UserError("the same run folder is named twice: " + ", ".join(sorted(map(str, run_dirs))))
    return {names[i]: run for i, run in enumerate(loaded)}


def _update_cards(tables: list[dict], runs: dict) -> None:
    from ..config import from_dict
    from . import model_card

    for t in tables:
        for row in t["rows"]:
            for run in row["runs"]:
                m, c, d = runs[run]
                (d / model_card.ADAPTATION).write_text(run_folder.strict_json(t, indent=1))
                model_card.write_model_card(d, from_dict(c), m)


def compare(run_dirs: list[str | Path], out: str | Path, baseline: str | None = None, update_cards: bool = False) -> Path:
    """Write report.md, report.html and report.json (+ figures) comparing finished runs.

    `update_cards`: domain-adaptation runs get the comparison table in their model card (and in
    their adaptation.json, which a later push reads)."""
    run_folder.refuse_inputs(out, "-o", [("the run", d) for d in run_dirs])
    runs = load_runs(run_dirs)
    table = comparison(runs, baseline)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Transfer report", ""]
    for section in SECTIONS:  # each: its report.json part (KEY), its table, its markdown and figures
        table[section.KEY] = section.table(runs)
        if table[section.KEY]:
            lines += section.write_section(table[section.KEY], runs, out) + ["## All runs", ""]
    if update_cards and table[adaptation_report.KEY]:
        _update_cards(table[adaptation_report.KEY], runs)
    (out / "report.json").write_text(run_folder.strict_json(table))
    if table["baseline"]:
        lines += [f"Gain (in brackets) is over `{table['baseline']}` on the same eval set.", ""]
    over = table["classic_baselines"]
    (k1, t1, _), (k2, t2, _) = table["headline"]
    if over:
        lines += [f"Gain over a baseline: {t2} of the run minus that of the baseline run ({', '.join(baselines())}) "
                  "on the same data and eval set, and of the same labelled subset and seed where there "
                  "are several (positive: fine-tuning pays off; blank: no such run).", ""]
    lines += [f"| run | model | pretrained | strategy | eval set | samples | {t1} | {t2} | "
              + "".join(f"{t2} gain over {b} | " for b in over) + "time (s) |",
              "|---|---|---|---|---|---:|---:|---:|" + "---:|" * len(over) + "---:|"]
    md = run_folder.md_text
    for row in table["rows"]:
        for split, cell in row["eval"].items():
            gain = lambda k: f" ({cell['gain_' + k]:+.4f})" if "gain_" + k in cell else ""  # noqa: E731
            versus = "".join(f"{cell['gain_over'][b][k2]:+.4f} | " if b in cell.get("gain_over", {}) else " | "
                             for b in over)
            lines.append(f"| {md(row['run'])} | {md(row['model'])} | {'yes' if row['pretrained'] else 'no'} | "
                         f"{row['strategy']} | {md(split)} | {cell['num_samples']} | {cell[k1]:.4f}{gain(k1)} | "
                         f"{cell[k2]:.4f}{gain(k2)} | {versus}{row['seconds']:.0f} |")
    warnings = [f"- {md(name)}: {md(w)}" for name, (m, *_) in runs.items() for w in m.get("warnings", [])]
    if warnings:
        lines += ["", "**Warnings:**", "", *warnings]
    if _plot_curves({n: m for n, (m, *_) in runs.items()}, out / "curves.png"):
        lines += ["", "![training curves](curves.png)"]
    path = out / run_folder.REPORT
    path.write_text("\n".join(lines) + "\n")
    write_html(path, out / "report.html")
    return path


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px}
td{text-align:right}td:first-child{text-align:left}th{background:#f3f3f3}img{max-width:100%}
code{background:#f3f3f3;padding:0 3px}"""


def write_html(md_path: Path, html_path: Path) -> Path:
    """A self-contained HTML page of a markdown report: tables rendered, images inlined as data URIs."""
    import markdown

    # no raw HTML gets through: a run or class named <script> is shown, never run (markdown passes tags as they are)
    body = markdown.markdown(md_path.read_text().replace("<", "&lt;"), extensions=["tables"])

    def inline(match: re.Match) -> str:
        image = md_path.parent / match.group(1)
        if not image.is_file():
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()}"'

    body = re.sub(r'src="([^":]+\.png)"', inline, body)
    title = next((line[2:] for line in md_path.read_text().splitlines() if line.startswith("# ")), "report")
    html_path.write_text(f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                         f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")
    return html_path


def results_table(report_json: str | Path) -> str:
    """A plain-text table of a comparison, for the terminal."""
    table = json.loads(Path(report_json).read_text())
    over = table.get("classic_baselines", [])
    (k1, t1, s1), (k2, t2, s2) = table.get("headline") or tasks.get_task(tasks.DEFAULT).headline
    lines = [f"{'run':<22} {'eval set':<14} {'n':>5} {t1:>9} {t2:>9} {'gain ' + s1:>9} "
             + "".join(f"{s2 + ' vs ' + b[:6]:>13} " for b in over) + f"{'time s':>7}"]
    for row in table["rows"]:
        for split, c in row["eval"].items():
            gain = f"{c['gain_' + k1]:+.4f}" if "gain_" + k1 in c else ""
            versus = "".join(f"{c['gain_over'][b][k2]:>+13.4f} " if b in c.get("gain_over", {}) else " " * 14
                             for b in over)
            lines.append(f"{row['run']:<22} {split:<14} {c['num_samples']:>5} {c[k1]:>9.4f} "
                         f"{c[k2]:>9.4f} {gain:>9} {versus}{row['seconds']:>7.0f}")
    return "\n".join(lines)
