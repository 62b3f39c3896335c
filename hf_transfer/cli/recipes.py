"""`hf-transfer recipes`: the recipes by name, with the first line of each one's docstring."""

from __future__ import annotations

import importlib

from ..launch import list_recipes


def add_parser(sub, recipe=None) -> None:
    sub.add_parser("recipes", help="list the recipes").set_defaults(func=handle)


def handle(args) -> int:
    for name in list_recipes():
        module = importlib.import_module(f"recipes.{name}")
        doc = (module.__doc__ or "").strip().splitlines()
        print(f"{name:<28} {doc[0] if doc else ''}")
    return 0
