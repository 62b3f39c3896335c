"""`hf-transfer report RUN... -o DIR`: finished runs side by side (report.md / .html / .json), gains over the
baselines, and the sections that apply (domain adaptation, label efficiency)."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub, recipe=None) -> None:
    p = sub.add_parser("report", help="compare finished runs side by side")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("-o", "--output", required=True, help="folder for report.md / report.html / report.json")
    p.add_argument("--baseline", default=None, help="run name the gains are taken over (default: a from-scratch run)")
    p.add_argument("--update-cards", action="store_true",
                   help="write the domain-adaptation table into each compared run's model card (and adaptation.json)")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from ..reports import run_report as report

    path = report.compare(args.runs, args.output, baseline=args.baseline, update_cards=args.update_cards)
    print(report.results_table(Path(args.output) / "report.json"))
    print(f"\nreport: {path}")
    return 0
