"""`hf-transfer demo` (`make demo`): the embedded offline default, recipes/demo.py, run into one folder with the
expected time of each run printed up front and one report at the end."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .. import run_folder


def add_parser(sub, recipe=None) -> None:
    p = sub.add_parser("demo", help="the embedded offline default: real pretrained backbones on real data, no network")
    p.add_argument("--output-dir", default=None, help="where the runs and the report go (default: runs/demo-TIME)")
    p.add_argument("--full", action="store_true", help="longer runs (more epochs and samples)")
    p.set_defaults(func=handle)


def handle(args) -> int:
    run_demo(output_dir=args.output_dir, full=args.full)
    return 0


def run_demo(output_dir: str | None = None, full: bool = False) -> Path:
    from recipes.demo import EXPECTED_SECONDS, recipe  # here, as the runs: the CLI starts without PyTorch

    from ..runs.sequence import run_configs

    out = Path(output_dir or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    run_folder.check(out)
    configs = recipe(str(out), full)
    expected = "" if full else f", about {sum(EXPECTED_SECONDS.get(c.name, 0) for c in configs) // 60 + 1} min on a 2-core CPU"
    print(f"hf-transfer demo: {len(configs)} runs, offline, into {out}{expected}\n"
          + "\n".join(f"  {i}. {c.name}: {c.model.name} on {c.data.dataset}"
                      + ("" if full else f" (~{EXPECTED_SECONDS.get(c.name, 0)} s)") for i, c in enumerate(configs, 1)),
          file=sys.stderr)
    run_configs(configs, str(out / "report"))
    return out
