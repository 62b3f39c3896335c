"""README's speed table from `make bench` runs: each ratio as median [range], and whether a later run agrees.

    python benchmarks/speed_table.py [--results benchmarks/results.jsonl] [--runs 2]

Reads the JSON lines the speed benchmarks append (each `make bench` tags its lines with one BENCH_RUN id) and prints,
for the last `--runs` runs side by side, every ratio README quotes; the last column says whether each later run's
median falls inside the first run's range.
"""

from __future__ import annotations

import argparse
import json

from common import RESULTS

ROWS = [  # (label, benchmark, the field that names the row, its value, the ratio's prefix)
    ("loop steps/s over a bare accelerate loop, EfficientNet-Lite0", "loop_overhead", "model", "efficientnet", "ratio"),
    ("loop steps/s over a bare accelerate loop, MiniLM", "loop_overhead", "model", "MiniLM", "ratio"),
    ("image pipeline images/s over set_transform + torchvision", "image_pipeline", "pipeline", "tensor",
     "ratio_pipeline"),
    ("length-grouped dynamic padding samples/s over max-length padding", "text_padding", "way", "ours",
     "ratio"),
    ("time to test accuracy over the example-script way, digits", "time_to_accuracy", "task", "digits", "ratio"),
    ("time to test accuracy over the example-script way, BBC News", "time_to_accuracy", "task", "BBC", "ratio"),
]


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
    print("| benchmark | " + " | ".join(f"run {run}" for run in runs) + " | later runs inside the first's range |")
    print("|---|" + "---:|" * len(runs) + "---|")
    for label, bench, field, value, key in ROWS:
        found = [next((r for r in reversed(lines) if r.get("bench_run") == run and r["benchmark"] == bench
                       and value in r.get(field, "")), None) for run in runs]
        cells = [f"{r[key]:.3f} [{r[key + '_low']:.3f}, {r[key + '_high']:.3f}]" if r and r.get(key) else "n/a"
                 for r in found]
        first = found[0]
        inside = [first and r and r.get(key) and first[key + "_low"] <= r[key] <= first[key + "_high"]
                  for r in found[1:]]
        print(f"| {label} | " + " | ".join(cells) + " | " + ", ".join("yes" if i else "NO" for i in inside) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
