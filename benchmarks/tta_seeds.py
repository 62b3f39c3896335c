"""The digits time-to-accuracy task over seeds: test accuracy after each epoch, ours (tensor and PIL image
pipelines) against the bare example-script loop, the same model, data, schedule and seed on each side.

    python benchmarks/tta_seeds.py [--seeds 0,1,2,42,3,4]

Prints one JSON line of the curves so far after each seed (RESULTS.md section 14).
"""

from __future__ import annotations

import argparse
import copy
import json

import time_to_accuracy as tta

from hf_transfer.config import from_dict
from hf_transfer.launch import quiet_libraries
from hf_transfer.runs.pipeline import run_config

TASK = "digits (EfficientNet-Lite0, MNIST 32 px)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,42,3,4")
    parser.add_argument("--out", default="runs/bench_tta_seeds")
    args = parser.parse_args()
    quiet_libraries()
    _, values = tta.TASKS[TASK]
    curves = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        for variant, data in (("ours tensor", {}), ("ours pil", {"pipeline": "pil"}), ("bare", None)):
            v = copy.deepcopy(values)
            v["train"]["seed"] = seed
            v["data"].update(data or {})
            cfg = from_dict({"name": "tta_seeds", "output_dir": args.out, **v})
            if data is None:
                curve = [acc for _, acc in tta.bare(cfg)]
            else:
                curve = [h["eval"]["test"]["accuracy"] for h in run_config(cfg, overwrite=True)["history"]]
            curves.setdefault(variant, []).append([round(a, 4) for a in curve])
        print(json.dumps({"seeds": args.seeds, **curves}), flush=True)


if __name__ == "__main__":
    main()
