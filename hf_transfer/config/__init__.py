"""Run configuration: what to train, as dataclasses with help text and validation.

A config is a tree of dataclasses (`Config` holds `ModelConfig`, `DataConfig`, `TrainConfig`,
`StrategyConfig`, `HubConfig`); `StrategyConfig` is built from the strategy registry: `name` and one
section per strategy with options, each defined in that strategy's own file. It is read from YAML or JSON, from a recipe (a Python file
whose `recipe()` returns a `Config`), and overridden from the command line with
`--set train.epochs=3`. Every value is checked against the field's type and allowed values, and
a bad one raises a `ConfigError` that names the field, e.g.
``train.optimizer: 'adamx' is not one of: adamw, sgd``.

"How to run" (devices, number of processes) is not in here: that is accelerate's launcher.

    schema.py   the dataclasses: every setting, its default and help
    rules.py    the checks the types cannot express, and the rules between fields and strategies
    engine.py   the generic part: a dict to typed dataclasses, --set values, the field listing
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..errors import ConfigError
from . import engine
from .rules import bottleneck_width, check
from .schema import (
    NESTED_DICTS,
    Config,
    DataConfig,
    EvalSource,
    HubConfig,
    ModelConfig,
    TargetConfig,
    TrainConfig,
    strategy_config_class,
)

__all__ = ["Config", "DataConfig", "EvalSource", "HubConfig", "ModelConfig", "TargetConfig", "TrainConfig",
           "apply_overrides", "bottleneck_width", "describe", "from_dict", "load", "strategy_config_class"]


def __getattr__(name: str):
    if name == "StrategyConfig":  # the class of the registry as it is now
        return strategy_config_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def from_dict(values: dict) -> Config:
    """Build and validate a `Config` from a nested dict (missing fields keep their defaults). A config written
    before `task` said what a model predicts gave image or text there: read as `modality`."""
    if isinstance(values, dict) and values.get("task") in ("image", "text") and "modality" not in values:
        values = {**values, "modality": values["task"], "task": "auto"}
    return check(engine.build(Config, values, nested=NESTED_DICTS))


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply `key.path=value` strings (values parsed as YAML: 3, 1e-4, true, [a, b], null)."""
    values = cfg.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.epochs=3")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = values
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: is not a section; cannot set {key.strip()}")
        node[parts[-1]] = engine.parse_value(text)
    return from_dict(values)


def load(path: str | Path) -> Config:
    """Read a YAML or JSON config file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        text = path.read_text()
        values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {str(e).splitlines()[0]}")
    return from_dict(values or {})


def describe(cls=Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every field, for `--help-config` and the README."""
    return engine.describe(cls, prefix)
