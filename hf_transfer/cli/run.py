"""`hf-transfer run`: a config file, a recipe (by file or name, with its own options), or --model and --dataset
(a config built from the data); --print-config, --resume, --overwrite, --help-config."""

from __future__ import annotations

import json
import sys

from ..errors import UserError
from ..launch import add_run_flags, is_config_file, load_configs, overrides_of, print_config_help, recipe_options, recipe_values


def add_parser(sub, recipe=None) -> None:
    """With `recipe` (the recipe `run` names), `run` also takes that recipe's own options, typed."""
    p = sub.add_parser("run", help="train a config file, a recipe, or --model M --dataset D (a config built from "
                                   "the data)", parents=[recipe_options(recipe)] if recipe else [])
    p.add_argument("target", nargs="?", help="config .yaml/.json, recipe .py, or a recipe name (hf-transfer recipes); "
                                             "none: a config built from the data of --model and --dataset")
    add_run_flags(p)
    p.add_argument("--target", dest="target_domain", default=None, metavar="DATASET",
                   help="with --model and --dataset: a second domain (its train split unlabelled, its test scored)")
    p.add_argument("--print-config", action="store_true", help="print the config(s) as YAML and stop (no training)")
    p.set_defaults(func=handle, recipe=recipe)


def handle(args) -> int:
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
                               args.target_domain, args.output_dir, task=args.task or "auto",
                               label_separator=args.label_separator,
                               label_columns=json.loads(args.label_columns) if args.label_columns else None)
        target = lambda: cfg  # noqa: E731 (a recipe of one config)
    values = recipe_values(args.recipe, args) if args.recipe else None
    configs, report_dir = load_configs(target, overrides_of(args), args.output_dir,
                                       push_to_hub=args.push_to_hub, recipe_values=values)
    if not (args.recipe or args.target):
        print("\n".join(settled(lines, configs[0])), file=sys.stderr)
    if args.print_config:
        print("\n---\n".join(c.to_yaml() for c in configs), end="")
        return 0
    from ..runs.sequence import run_configs  # here: the CLI starts without PyTorch (predict of an ONNX export)

    run_configs(configs, report_dir, overwrite=args.overwrite, resume=args.resume, recipe=recipe)
    return 0
