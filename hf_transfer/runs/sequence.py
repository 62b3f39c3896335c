"""Several configs run one after another (a recipe, a sweep, the demo, rank --validate): each through the one
pipeline, a finished one kept under --resume, then one comparison report of them all."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .. import run_folder, tasks
from ..errors import UserError
from ..reports import run_report as report
from .lifecycle import config_changes
from .pipeline import run_config


def run_configs(configs: list, report_dir: str | None, overwrite: bool = False, resume: bool = False,
                recipe: bool = False) -> list[dict]:
    """Train each config in order (a finished run is skipped under --resume); compare them if several.
    Under --resume a recipe's runs (`recipe`, or several configs) not started yet start fresh; a single
    config's run must have a checkpoint."""
    results = []
    for cfg in configs:
        out = Path(cfg.output_dir)
        earlier = json.loads((out / run_folder.METRICS).read_text()) if resume and (out / run_folder.METRICS).is_file() else {}
        if earlier.get("status") == "finished":
            changed = config_changes(cfg, out)
            if changed:
                raise UserError(f"--resume: {str(out)!r} is a finished run and the config differs from its "
                                f"{run_folder.CONFIG} in {', '.join(changed)}; pass --overwrite to train it again with "
                                "this config, or choose another --output-dir")
            print(f"[{cfg.name}] finished earlier, kept: {out}", file=sys.stderr)
            results.append(earlier)
            continue
        not_started = (recipe or len(configs) > 1) and not (out.is_dir() and any(out.iterdir()))
        this_resume = resume and not not_started
        print(f"[{cfg.name}] {cfg.model.name} on {cfg.data.dataset} -> {out}", file=sys.stderr)
        tick = time.perf_counter()
        metrics = run_config(cfg, overwrite=overwrite, resume=this_resume)
        print(f"[{cfg.name}] {metrics.get('status', 'done')} in {time.perf_counter() - tick:.0f} s", file=sys.stderr)
        results.append(metrics)
        if metrics.get("status") == "stopped":
            print(metrics["message"], file=sys.stderr)
            return results
    if report_dir and run_folder.is_main_process():
        path = report.compare([c.output_dir for c in configs], report_dir, update_cards=True)
        print(report.results_table(Path(report_dir) / "report.json"))
        print(f"\nreport: {path}")
    elif len(configs) == 1 and run_folder.is_main_process():
        print(run_summary(results[0], configs[0].output_dir))
    return results


def run_summary(metrics: dict, out: str) -> str:
    (k1, t1, _), (k2, t2, _) = tasks.of_metrics(metrics).headline
    lines = [f"{'eval set':<16} {'n':>6} {t1:>9} {t2:>9}"]
    for k, m in metrics.get("final", {}).items():
        lines.append(f"{k:<16} {m['num_samples']:>6} {m[k1]:>9.4f} {m[k2]:>9.4f}")
    return "\n".join(lines) + f"\n\nrun directory: {out}  (report.md, metrics.json, model/)"
