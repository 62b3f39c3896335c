"""`hf-transfer evaluate MODEL --dataset D... -o DIR`: a saved classifier scored on other data sets, nothing
trained; with several, the source-vs-target table and the drop between them."""

from __future__ import annotations

from pathlib import Path

from .flags import MODEL_HELP, positive


def add_parser(sub, recipe=None) -> None:
    p = sub.add_parser("evaluate", help="score a saved classifier on other datasets, nothing trained (with several: "
                                        "the source-vs-target table and the drop between them)")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--dataset", action="append", required=True, help="a dataset (any form data.dataset accepts); "
                                                                     "repeat for several, the first is the reference")
    p.add_argument("-o", "--output", required=True, help="folder for metrics.json and report.md / .html / .json")
    p.add_argument("--split", default=None, help="split scored (default: test, or a file's only split)")
    for kind in ("label", "text", "image"):
        p.add_argument(f"--{kind}-column", default=None, help=f"the {kind} column (default: the run's, or found)")
    p.add_argument("--max-samples", type=positive(int), default=None,
                   help="score a stratified subsample (default: a run's own data.max_eval_samples)")
    p.add_argument("--seed", type=int, default=None, help="seed of that subsample (default: the run's train.seed)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier evaluation in the folder")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from ..evaluation import evaluate

    columns = {"text_column": args.text_column, "image_column": args.image_column, "label_column": args.label_column}
    evaluate(args.model, args.dataset, args.output, split=args.split, columns=columns, max_samples=args.max_samples,
             seed=args.seed, overwrite=args.overwrite)
    print((Path(args.output) / "report.md").read_text().split("\n## ")[0].strip())
    return 0
