"""The typed-config engine, for any tree of dataclasses: build one from a nested dict with every key and value
checked against the field's type (`build`: a bad one is a `ConfigError` naming the dotted field), parse a
`--set` value (`parse_value`), and list every field with its default and help (`describe`)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal

import yaml

from ..errors import ConfigError

NONE_WORDS = {"null", "none", "~", ""}


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp`; convert what converts cleanly (int -> float)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value is None and "none" in choices:  # YAML and --set read a bare `none`/`null` as null
            return "none"
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of: {', '.join(map(str, choices))}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if tp in (list, dict):
        if isinstance(value, tp):
            return value
        raise ConfigError(f"{key}: expected a {_type_name(tp)}, got {value!r}")
    return value


def field_type(f: dataclasses.Field, hints: dict):
    """A field's type; `strategy`'s is the registry's StrategyConfig (field metadata `dataclass`)."""
    return f.metadata["dataclass"]() if "dataclass" in f.metadata else hints[f.name]


def build(cls, values: dict, prefix: str = "", nested: dict | None = None):
    """Make dataclass `cls` from a nested dict, checking every key and value; `nested`: {dotted key: section class}
    of the dict fields whose values are sections."""
    nested = nested or {}
    if isinstance(values, cls):
        return values
    if dataclasses.is_dataclass(values) and not isinstance(values, type):  # e.g. a StrategyConfig made before a register
        values = dataclasses.asdict(values)
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping of fields, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown field; {prefix.rstrip('.') or 'config'} has: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if f.name not in values:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: required")
            continue
        tp = field_type(f, hints)
        value = values[f.name]
        if dataclasses.is_dataclass(tp):
            kwargs[f.name] = build(tp, value, key + ".", nested)
        elif key in nested:
            value = _coerce(value, dict, key)
            kwargs[f.name] = {k: build(nested[key], v, f"{key}.{k}.", nested) for k, v in value.items()}
        else:
            kwargs[f.name] = _coerce(value, tp, key)
    return cls(**kwargs)


def parse_value(text: str) -> Any:
    if text.strip().lower() in NONE_WORDS:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def describe(cls, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every field, for `--help-config` and the README."""
    rows = []
    for f in dataclasses.fields(cls):
        tp = field_type(f, typing.get_type_hints(cls))
        if dataclasses.is_dataclass(tp):
            rows += describe(tp, prefix + f.name + ".")
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
        rows.append((prefix + f.name, json.dumps(default), f.metadata.get("help", "")))
    return rows
