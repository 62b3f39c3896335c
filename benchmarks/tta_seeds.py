"""A time-to-accuracy task of time_to_accuracy.py, one difference at a time: the test accuracy curve over seeds, ours
against the bare example-script loop with the same model, data, schedule and seed (RESULTS.md sections 14 and 16).

    python benchmarks/tta_seeds.py [--task digits|bbc] [--seeds 0,1,2,3,4]

Variants (each a full run, never stopped at the target):
* ours: hf_transfer.train (digits: the tensor image pipeline, the default);
* ours, PIL pipeline (digits): the augmentation implementation swapped (timm's transforms per image);
* bare: the example-script loop (torchvision transforms on a worker, or text padded to max_length; DataLoader
  shuffling), also scored with our evaluation transform (or our tokenisation) at the same weights;
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

TASKS = {"digits": "digits (EfficientNet-Lite0, MNIST 32 px)", "bbc": "BBC News (MiniLM, 64 tokens)"}


def variants(task: str) -> dict:
    every = tta.TASKS[task][1]
    out = {
        "ours": lambda seed, out: tta.ours(tta.config(task, seed, out), None, every),
        "ours, PIL pipeline": lambda seed, out: tta.ours(tta.config(task, seed, out, pipeline="pil"), None, every),
        "bare": lambda seed, out: tta.bare(tta.config(task, seed, out), None, every, our_eval=True),
        "bare, our sample order": lambda seed, out: tta.bare(tta.config(task, seed, out), None, every, our_order=True),
    }
    if "digits" not in task:
        del out["ours, PIL pipeline"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="digits")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--out", default="runs/bench_tta_seeds")
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()
    quiet_libraries()
    seeds = [int(s) for s in args.seeds.split(",")]
    task, target = TASKS[args.task], tta.TASKS[TASKS[args.task]][0]
    runs = variants(task)
    curves = {name: [] for name in runs}
    for seed in seeds:
        for name, run in runs.items():
            curve = run(seed, args.out)
            curves[name].append(curve.points)
            emit({"benchmark": "tta_swaps", "task": task, "variant": name, "seed": seed, "curve": curve.points,
                  "target": target, "seconds_to_target": tta.seconds_to(curve.points, target)}, args.results)
    curves["bare, scored with our evaluation inputs"] = [
        [{**p, "accuracy": p["accuracy_our_eval"]} for p in c] for c in curves["bare"]]
    steps = [p["step"] for p in curves["ours"][0]]
    at = [s for s in (4, 6, 8, 10, 20, 30, 45, 60, 90, steps[-1]) if s in steps]
    print(f"\nmean test accuracy at step ({len(seeds)} seeds); paired difference from bare with its 95 % interval")
    print("variant".ljust(44) + "".join(f"{s:>8}" for s in at) + "   mean over the curve, minus bare   steps to "
          f"{target} per seed")
    base = [statistics.mean(p["accuracy"] for p in c) for c in curves["bare"]]
    for name, runs in curves.items():
        reached = [next((p["step"] for p in c if p["accuracy"] >= target), None) for c in runs]
        acc = {s: [next(p["accuracy"] for p in c if p["step"] == s) for c in runs] for s in at}
        whole = [statistics.mean(p["accuracy"] for p in c) for c in runs]
        diff = t_interval([w - b for w, b in zip(whole, base)])
        print(name.ljust(44) + "".join(f"{statistics.mean(acc[s]):8.3f}" for s in at) +
              f"   {diff['mean']:+.3f} {bracket(diff)}   {reached}")
    print(json.dumps({"seeds": seeds, "steps_shown": at}))


if __name__ == "__main__":
    main()
