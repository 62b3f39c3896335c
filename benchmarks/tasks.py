"""Multi-label and regression on real offline data: the fine-tuned model against both baselines of its task, over
seeds, with paired 95 % intervals, and the conformal intervals' test coverage (RESULTS.md, "Beyond one label").

    python benchmarks/tasks.py --seeds 3 --out ../runs/tasks                 # both tasks
    python benchmarks/tasks.py --only regression --seeds 3

Each seed runs the task's recipe offline with --baselines (multilabel_text: all-MiniLM-L6-v2 on the NRC Emotion
Lexicon; regression_text: all-MiniLM-L6-v2 on VADER's lexicon): the fine-tuned model, tfidf_logreg and
frozen_logreg, the same seed and splits. Every choice (epoch, thresholds, temperature, C or alpha, the conformal
half-width) is made on the validation split; the test split is scored once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import emit, environment  # noqa: E402

from hf_transfer.intervals import bracket, mean_std, spread, t_interval  # noqa: E402
from hf_transfer.launch import load_configs, quiet_libraries  # noqa: E402
from hf_transfer.runs.pipeline import run_config  # noqa: E402

TASKS = {  # task: (recipe, the two metrics compared, which is better higher)
    "multi_label": ("multilabel_text", (("f1_micro", True), ("map", True))),
    "regression": ("regression_text", (("mae", False), ("r2", True))),
}


def run_task(task: str, seeds: list[int], out: Path, results: str) -> list[dict]:
    recipe, metrics = TASKS[task]
    rows = []
    for seed in seeds:
        configs, _ = load_configs(recipe, [f"train.seed={seed}"], str(out / task / f"seed{seed}"),
                                  recipe_args=["--offline", "--baselines"])
        for cfg in configs:
            m = run_config(cfg, overwrite=True)
            test = m["final"]["test"]
            row = {"benchmark": "tasks", "task": task, "run": m["strategy"], "seed": seed,
                   **{k: test[k] for k, _ in metrics}, "selected_epoch": m["selected_epoch"],
                   "calibration": m["calibration"]["method"],
                   "seconds": m["timings"]["total_seconds"], "environment": environment()}
            if "interval_coverage" in test:
                row["coverage_90"], row["half_width"] = test["interval_coverage"], m["calibration"]["half_width"]
            emit(row, results)
            rows.append(row)
    return rows


def summary(task: str, rows: list[dict]) -> None:
    """Mean ± std per run, and the fine-tuned model minus each baseline, paired by seed, with its 95 % interval."""
    _, metrics = TASKS[task]
    runs = list(dict.fromkeys(r["run"] for r in rows))
    print(f"\n{task}: test, mean ± std over {len({r['seed'] for r in rows})} seeds")
    print("| run | " + " | ".join(k for k, _ in metrics) + " | time (s) |")
    for run in runs:
        mine = [r for r in rows if r["run"] == run]
        print(f"| {run} | " + " | ".join(mean_std(spread([r[k] for r in mine])) for k, _ in metrics)
              + f" | {spread([r['seconds'] for r in mine])['mean']:.0f} |")
    tuned = runs[0]
    for base in runs[1:]:
        for key, higher in metrics:
            pairs = {r["seed"]: r[key] for r in rows if r["run"] == tuned}
            other = {r["seed"]: r[key] for r in rows if r["run"] == base}
            diffs = [pairs[s] - other[s] for s in pairs if s in other]
            ci = t_interval(diffs)
            print(f"{tuned} - {base}, {key} ({'higher' if higher else 'lower'} is better): {ci['mean']:+.4f} {bracket(ci)}")
    coverage = [r["coverage_90"] for r in rows if "coverage_90" in r and r["run"] == tuned]
    if coverage:
        print(f"90 % conformal interval, test coverage per seed: {', '.join(f'{c:.3f}' for c in coverage)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(TASKS), default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--out", default="../runs/tasks")
    p.add_argument("--results", default="tasks_results.jsonl")
    args = p.parse_args()
    quiet_libraries()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    for task in [args.only] if args.only else list(TASKS):
        summary(task, run_task(task, seeds, Path(args.out), args.results))


if __name__ == "__main__":
    main()
