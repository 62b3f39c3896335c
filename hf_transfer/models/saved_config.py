"""A saved folder's config.json (and head spec) read as data: checked against what a library or hf-transfer
writes before anything is built from it, so a damaged or tampered folder is refused with one line instead of a
traceback, a huge allocation, or a model that loads and predicts other numbers without a word.

    read_json(path)      any JSON file of a saved folder, or one line
    read(folder)         config.json as a dict: a JSON object; class names strings, id2label keyed 0..n-1;
                         sizes and counts positive and bounded
    check_distinct(...)  a saved classifier's class names, each once
    check_head(spec)     a rebuilt head's spec (hidden layers, a bottleneck, dropout)
    check_pooling(spec)  the hf_transfer form's pooling
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import UserError

# ints a config gives the shape of a network with: 0 to _LIMIT (far above any released model), some at least 1
_SIZES = re.compile(r"^(num_\w+|\w+_size|\w+_dim|\w+_layers|\w+_heads|max_position_embeddings|num_features)$")
_LIMIT = 1 << 22
_AT_LEAST_ONE = {"num_hidden_layers", "num_attention_heads", "hidden_size", "vocab_size", "num_labels"}
_FORM_KEYS = {"model_type", "architectures", "auto_map", "id2label", "label2id", "encoder", "encoder_prefix",
              "head_attr", "pooling", "head", "loadable", "transformers_version", "problem_type"}  # what models/hf_form.py writes
_HEAD_KEYS = {"hidden", "dropout", "mlp_in", "bottleneck", "head_attr"}


def read_json(path: Path, field: str = "model.name"):
    """A saved folder's JSON file (config.json, a head spec, tfidf.json), or one line naming `field` and the file."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{field}: {path} is not readable JSON ({e}); the folder is damaged") from None


def read(folder: str | Path) -> dict:
    """The folder's config.json, checked; a one-line refusal naming the file and what is wrong."""
    path = Path(folder) / "config.json"
    config = read_json(path)
    if not isinstance(config, dict):
        raise UserError(f"model.name: {path} is not a JSON object of settings; the folder is damaged")
    where = f"model.name: {path}"
    _check_labels(config, where)
    _check_sizes(config, where)
    if config.get("model_type") == "hf_transfer":
        unknown = sorted(set(config) - _FORM_KEYS)
        if unknown or not isinstance(config.get("encoder"), dict):
            raise UserError(f"{where}: {'unknown keys ' + ', '.join(unknown) if unknown else 'no encoder settings'} "
                            "in an hf_transfer-form config; the folder was changed after hf-transfer saved it")
        _check_sizes(config["encoder"], where + " encoder")
        check_pooling(config.get("pooling"), where)
        check_head(config.get("head"), where)
    return config


def _check_labels(config: dict, where: str) -> None:
    """label_names (timm) or id2label (transformers): strings, id2label keyed 0..n-1."""
    names = config.get("label_names")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise UserError(f"{where}: label_names must be a list of class names")
    id2label = config.get("id2label")
    if id2label is not None:
        keys = list(id2label) if isinstance(id2label, dict) else None
        if keys is None or sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))] \
                or not all(isinstance(v, str) for v in id2label.values()):
            raise UserError(f"{where}: id2label must map the class ids 0..n-1 (as \"0\", \"1\", ...) to class names")


def check_distinct(names: list[str], where: str) -> None:
    """A classifier's class names, each once: with a name twice, its predictions could not say which class they
    mean. (A backbone's source head may repeat one, as ImageNet's two 'crane' classes do; it is replaced.)"""
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"{where}: the class name {twice[0]!r} is given twice; each class needs its own name")


def _check_sizes(config: dict, where: str) -> None:
    for key, value in config.items():
        low = 1 if key in _AT_LEAST_ONE else 0
        if _SIZES.match(key) and type(value) is int and not low <= value <= _LIMIT:
            raise UserError(f"{where}: {key} = {value} is out of range ({low} to {_LIMIT}); the folder was changed")


def check_pooling(spec, where: str) -> None:
    from .pooling import MODES

    if spec is None:
        return
    if not (isinstance(spec, dict) and set(spec) == {"mode", "normalize"} and spec["mode"] in MODES
            and isinstance(spec["normalize"], bool)):
        raise UserError(f"{where}: pooling must be {{mode: one of {', '.join(MODES)}, normalize: true|false}}, "
                        f"got {spec!r}")


def check_head(spec, where: str) -> None:
    """A head spec as heads.py writes it: mlp_in, and hidden sizes with a dropout, or a bottleneck width."""
    if not spec:
        return

    def size(v):
        return type(v) is int and 1 <= v <= _LIMIT

    ok = isinstance(spec, dict) and set(spec) <= _HEAD_KEYS and size(spec.get("mlp_in")) and (
        size(spec.get("bottleneck")) if spec.get("bottleneck") is not None else
        isinstance(spec.get("hidden"), list) and all(size(h) for h in spec["hidden"])
        and isinstance(spec.get("dropout"), (int, float)) and not isinstance(spec["dropout"], bool)
        and 0 <= spec["dropout"] < 1)
    if not ok:
        raise UserError(f"{where}: the head is not one hf-transfer saves (mlp_in, with hidden sizes and a dropout in "
                        f"[0, 1), or a bottleneck width; sizes 1 to {_LIMIT}): {spec!r}")
