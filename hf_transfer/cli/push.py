"""`hf-transfer push RUN --repo-id OWNER/NAME`: a finished run's model, card, report and metrics to the Hub."""

from __future__ import annotations


def add_parser(sub, recipe=None) -> None:
    p = sub.add_parser("push", help="upload a finished run (model, card, report) to the Hugging Face Hub")
    p.add_argument("run_dir", help="a finished run directory")
    p.add_argument("--repo-id", required=True, help="OWNER/NAME on the Hub (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.set_defaults(func=handle)


def handle(args) -> int:
    from ..hub import push

    url = push(args.run_dir, args.repo_id, private=args.private)
    print(f"pushed {args.run_dir} to {url}")
    return 0
