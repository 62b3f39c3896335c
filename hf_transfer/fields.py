"""`option`: a dataclass field with help text, for every config section (config/schema.py and each strategy's own)."""

from __future__ import annotations

import dataclasses


def option(default=dataclasses.MISSING, help: str = "", **kw):
    """A dataclass field with help text (shown by `hf-transfer run --help-config`)."""
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={"help": help}, **kw)
    return dataclasses.field(default=default, metadata={"help": help}, **kw)
