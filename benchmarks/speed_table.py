"""README's speed table from `make bench` runs: each ratio as median [range], per run and over the runs' repeats pooled.

    python benchmarks/speed_table.py [--results benchmarks/results.jsonl] [--runs 2]

Reads the JSON lines the speed benchmarks append (each `make bench` tags its lines with one BENCH_RUN id) and prints,
for the last `--runs` runs side by side, every ratio README quotes: each run's median with its range over its
repeats (or seeds), whether each later run's median falls inside the first run's range, and the median and range
over the repeats of all these runs together (what README prints: the spread two runs actually showed).
"""

from __future__ import annotations

import argparse
import json

from common import RESULTS, median_range, shown

ROWS = [  # (label, benchmark, the field that names the row, a part of its value)
    ("loop steps/s over a bare accelerate loop, EfficientNet-Lite0", "loop_overhead", "model", "efficientnet"),
    ("loop steps/s over a bare accelerate loop, MiniLM", "loop_overhead", "model", "MiniLM"),
    ("image pipeline images/s over set_transform + torchvision", "image_pipeline", "pipeline", "tensor"),
    ("length-grouped dynamic padding samples/s over max-length padding", "text_padding", "way", "ours"),
    ("time to test accuracy over the example-script way, digits", "time_to_accuracy", "task", "digits"),
    ("time to test accuracy over the example-script way, BBC News", "time_to_accuracy", "task", "BBC"),
]
# benchmarks whose baseline is another line of the same run: (its field, a part of its value, the per-repeat rates)
BASELINES = {"image_pipeline": ("pipeline", "set_transform", "pipeline_images_per_s_each"),
             "text_padding": ("way", "max_length", "samples_per_s_each")}


def _find(lines: list[dict], run: str, bench: str, field: str, value: str) -> dict | None:
    return next((r for r in reversed(lines) if r.get("bench_run") == run and r["benchmark"] == bench
                 and value in r.get(field, "")), None)


def _ratios(lines: list[dict], row: dict | None) -> list[float]:
    """The ratio of each repeat (or seed) of one benchmark line (none without the line or its baseline)."""
    if row is None:
        return []
    if row["benchmark"] == "loop_overhead":
        return [o / b for o, b in zip(row["ours_steps_per_s_each"], row["bare_steps_per_s_each"])]
    if row["benchmark"] == "time_to_accuracy":
        return [b / o for o, b in zip(row["ours_seconds"], row["bare_seconds"]) if o and b]
    field, value, key = BASELINES[row["benchmark"]]
    base = _find(lines, row["bench_run"], row["benchmark"], field, value)
    return [r / b for r, b in zip(row[key], base[key])] if base else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    lines = [json.loads(line) for line in open(args.results) if line.strip()]
    runs = list(dict.fromkeys(r["bench_run"] for r in lines if "bench_run" in r))[-args.runs:]
    if not runs:
        print(f"no `make bench` runs in {args.results}")
        return 1
    print("| benchmark | " + " | ".join(f"run {run}" for run in runs) + " | later inside the first's range | "
          "all runs' repeats |")
    print("|---|" + "---:|" * len(runs) + "---|---:|")
    for label, bench, field, value in ROWS:
        ratios = [_ratios(lines, _find(lines, run, bench, field, value)) for run in runs]
        each = [median_range(r) for r in ratios]
        inside = ["n/a" if e["median"] is None or each[0]["median"] is None else
                  "yes" if each[0]["low"] <= e["median"] <= each[0]["high"] else "NO" for e in each[1:]]
        pooled = median_range([x for r in ratios for x in r])
        print(f"| {label} | " + " | ".join(shown(e) for e in each) + " | " +
              ", ".join(inside) + f" | {shown(pooled)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
