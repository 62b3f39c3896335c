"""The strategy registry: `@register("mcc", config=MccConfig)` makes a strategy known everywhere.

A strategy's file holds its whole method: the options (a dataclass, `config`, which becomes the
`strategy.<name>` section of every config, with its help text in `--help-config`), their checks (the
dataclass's `rules()`: (field, holds, why) triples, and `rules_in_use()`, checked only when the
strategy is named) and the hooks (the class). The config, the loop and the recipes read the registry;
nothing else lists strategies.
"""

from __future__ import annotations

REGISTRY: dict[str, type] = {}


def register(name: str, config: type | None = None):
    """Class decorator: register a strategy under `name`, with its options dataclass `config` (if any)."""

    def add(cls: type) -> type:
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ValueError(f"strategy {name!r} is registered twice ({REGISTRY[name].__qualname__}, {cls.__qualname__})")
        cls.name, cls.config = name, config
        REGISTRY[name] = cls
        return cls

    return add


REPORT_SECTIONS: list = []  # functions (table, runs) -> markdown lines, each a method's own part of the report


def report_section(fn):
    """Decorator: `fn(table, runs)` adds a method's own lines to the domain-adaptation report (its metrics.json
    section read back: a label-shift method's priors, WiSE-FT's alpha curve); in registration order."""
    REPORT_SECTIONS.append(fn)
    return fn


def baselines() -> tuple[str, ...]:
    """The baselines every user tries first (`Strategy.baseline`), in registration order: the report's gain columns,
    the label-efficiency curve's reference, a recipe's --baselines."""
    return tuple(name for name, cls in REGISTRY.items() if getattr(cls, "baseline", False))
