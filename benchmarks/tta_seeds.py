"""The digits time-to-accuracy task, one difference at a time: test accuracy every 5 steps over seeds, ours against
the bare example-script loop with the same model, data, schedule and seed (RESULTS.md section 14).

    python benchmarks/tta_seeds.py [--seeds 0,1,2]

Variants (each a full 2-epoch run, never stopped at the target):
* ours: hf_transfer.train, tensor image pipeline (the default);
* ours, PIL pipeline: the augmentation implementation swapped (timm's transforms per image);
* bare: the example-script loop (torchvision transforms on a worker, DataLoader shuffling), also scored with our
  evaluation transform at the same weights (the evaluation transform swapped);
* bare, our sample order: the bare loop reading the training rows in our sampler's order.
Prints one JSON line per seed and variant, then the mean accuracy at fixed steps and the paired differences.
"""

from __future__ import annotations

import argparse
import json
import statistics

import time_to_accuracy as tta
from common import RESULTS, emit

from hf_transfer.intervals import bracket, t_interval
from hf_transfer.launch import quiet_libraries

TASK = "digits (EfficientNet-Lite0, MNIST 32 px)"
EVERY = 5
VARIANTS = {
    "ours": lambda seed, out: tta.ours(tta.config(TASK, seed, out), None, EVERY),
    "ours, PIL pipeline": lambda seed, out: tta.ours(tta.config(TASK, seed, out, pipeline="pil"), None, EVERY),
    "bare": lambda seed, out: tta.bare(tta.config(TASK, seed, out), None, EVERY, our_eval=True),
    "bare, our sample order": lambda seed, out: tta.bare(tta.config(TASK, seed, out), None, EVERY, our_order=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default="runs/bench_tta_seeds")
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()
    quiet_libraries()
    seeds = [int(s) for s in args.seeds.split(",")]
    curves = {name: [] for name in VARIANTS}
    for seed in seeds:
        for name, run in VARIANTS.items():
            curve = run(seed, args.out)
            curves[name].append(curve.points)
            emit({"benchmark": "tta_swaps", "task": TASK, "variant": name, "seed": seed, "curve": curve.points,
                  "seconds_to_0.90": tta.seconds_to(curve.points, 0.90)}, args.results)
    curves["bare, scored with our evaluation transform"] = [
        [{**p, "accuracy": p["accuracy_our_eval"]} for p in c] for c in curves["bare"]]
    steps = [p["step"] for p in curves["ours"][0]]
    at = [s for s in (10, 20, 30, 45, 60, 90, steps[-1]) if s in steps]
    print(f"\nmean test accuracy at step ({len(seeds)} seeds); paired difference from bare with its 95 % interval")
    print("variant".ljust(44) + "".join(f"{s:>8}" for s in at) + "   mean over the curve, minus bare")
    for name, runs in curves.items():
        acc = {s: [next(p["accuracy"] for p in c if p["step"] == s) for c in runs] for s in at}
        whole = [statistics.mean(p["accuracy"] for p in c) for c in runs]
        base = [statistics.mean(p["accuracy"] for p in c) for c in curves["bare"]]
        diff = t_interval([w - b for w, b in zip(whole, base)])
        print(name.ljust(44) + "".join(f"{statistics.mean(acc[s]):8.3f}" for s in at) +
              f"   {diff['mean']:+.3f} {bracket(diff)}")
    print(json.dumps({"seeds": seeds, "steps_shown": at}))


if __name__ == "__main__":
    main()
