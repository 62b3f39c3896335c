"""`hf-transfer rank --models A,B --dataset D -o DIR`: which backbone to start from, scored from one frozen forward
pass (LogME, LEEP, NCE, H-score), optionally checked against fine-tuning every candidate (--validate)."""

from __future__ import annotations

from pathlib import Path

from .flags import positive


def add_parser(sub, recipe=None) -> None:
    p = sub.add_parser("rank", help="which backbone? transferability scores (LogME, LEEP, NCE, H-score) of candidates "
                                    "on the target data, optionally checked against fine-tuning (--validate)")
    p.add_argument("--models", required=True, help="comma-separated candidates, any form model.name accepts; "
                                                   "random:NAME is NAME's architecture untrained")
    p.add_argument("--dataset", required=True, help="the labelled target data (any form data.dataset accepts)")
    p.add_argument("-o", "--output", required=True, help="folder for rank.md / rank.html / rank.json")
    p.add_argument("--layers", default=None, help="also score features of these blocks, e.g. 2,4,-1 (timm "
                                                  "forward_intermediates indexes / transformers hidden states)")
    p.add_argument("--max-samples", type=positive(int), default=1000, help="labelled samples scored (default 1000)")
    p.add_argument("--image-size", type=positive(int), default=None, help="image side (default: each model's own)")
    p.add_argument("--max-length", type=positive(int), default=128, help="text: tokens per sample (default 128)")
    p.add_argument("--batch-size", type=positive(int), default=32, help="batch size (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validate", action="store_true", help="fine-tune every candidate with one budget and report "
                                                            "Kendall's tau / Spearman's rho of each score")
    p.add_argument("--epochs", type=positive(int), default=3, help="--validate: epochs (default 3)")
    p.add_argument("--lr", type=positive(float), default=1e-3, help="--validate: learning rate (default 1e-3)")
    p.add_argument("--max-eval-samples", type=positive(int), default=None, help="--validate: test samples")
    for kind in ("label", "text", "image"):
        p.add_argument(f"--{kind}-column", default=None, help=f"the {kind} column (default: found by name)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="--validate: a config override for every fine-tuning run, e.g. train.class_weights=balanced")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier ranking in the folder")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from ..ranking import run_rank
    from ..reports.rank_report import markdown

    result = run_rank(args.models, args.dataset, args.output, layers=args.layers, validate=args.validate,
                      max_samples=args.max_samples, max_eval_samples=args.max_eval_samples, image_size=args.image_size,
                      max_length=args.max_length, batch_size=args.batch_size, seed=args.seed, epochs=args.epochs,
                      lr=args.lr, overwrite=args.overwrite, overrides=args.set,
                      columns={"label_column": args.label_column, "text_column": args.text_column,
                               "image_column": args.image_column})
    print("\n".join(markdown(result)[:len(result["candidates"]) + 6]))
    print(f"\nranking: {Path(args.output) / 'rank.md'}")
    return 0
