"""The export folder: what `hf-transfer export` writes and what onnxruntime alone needs to run it.

    model.onnx        the classifier: named inputs (input_ids, attention_mask... or pixel_values) with dynamic
                      batch (and sequence) axes -> `probabilities`, the temperature already folded in
    preprocess.onnx   images: the tensor pipeline's evaluation crop (uint8 pixels of any size -> pixel_values)
    tokenizer files   texts: the run's tokenizer (tokenizer.json, tokenizer_config.json...)
    export.json       the modality, the labels, the preprocessing, and the check against PyTorch

export.json is read as data (a folder may come from anywhere): a one-line refusal when it is not what
`hf-transfer export` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError

EXPORT_JSON = "export.json"
EXPORT_DIR = "onnx"  # a run's export, beside its model/ (and in a pushed repository)
MODEL_FILE = "model.onnx"
PREPROCESS_FILE = "preprocess.onnx"
FORMAT = "hf-transfer-onnx"
QUANTIZE = ("none", "int8")
_IMAGE_KEYS = {"pipeline", "size", "crop_pct", "interpolation", "mean", "std"}


def is_export(folder: str | Path) -> bool:
    return (Path(folder) / EXPORT_JSON).is_file()


def read(folder: str | Path) -> dict:
    """export.json of `folder`, checked: a JSON object in this format, labels distinct strings, the files it
    names present; else one line naming the file."""
    path = Path(folder) / EXPORT_JSON
    try:
        spec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"model: {path} is not readable JSON ({e}); the export is damaged") from None
    problem = _problem(spec, Path(folder))
    if problem:
        raise UserError(f"model: {path}: {problem}; the export is damaged or not written by hf-transfer export")
    return spec


def _problem(spec, folder: Path) -> str | None:
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        return f"not an {FORMAT} description (its 'format')"
    names = spec.get("label_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names) \
            or len(set(names)) != len(names):
        return "label_names must be a list of distinct strings"
    if spec.get("modality") not in ("image", "text") or spec.get("quantize") not in QUANTIZE:
        return "modality must be image or text, quantize none or int8"
    quantization = spec.get("quantization")
    if quantization is not None and not (isinstance(quantization, dict) and isinstance(quantization.get("method"), str)):
        return "quantization must be null or say its method"
    if not (folder / MODEL_FILE).is_file():
        return f"{MODEL_FILE} is missing"
    pre = spec.get("preprocessing")
    if spec["modality"] == "text":
        if not isinstance(pre, dict) or not isinstance(pre.get("max_length"), int) or pre["max_length"] < 1:
            return "preprocessing.max_length must be a positive integer"
        return None
    if not isinstance(pre, dict) or set(pre) != _IMAGE_KEYS or not isinstance(pre["size"], int) or pre["size"] < 1 \
            or not all(isinstance(v, list) and len(v) == 3 for v in (pre["mean"], pre["std"])):
        return f"preprocessing must give {', '.join(sorted(_IMAGE_KEYS))} (size an integer, mean and std 3 numbers)"
    if not (folder / PREPROCESS_FILE).is_file():
        return f"{PREPROCESS_FILE} is missing"
    return None


def refuse_for_torch(folder: str | Path, field: str) -> None:
    """One line when `folder` is an export, given where PyTorch weights are needed (`field` names the setting)."""
    if is_export(folder):
        raise UserError(f"{field}: {folder} is an ONNX export (export.json), which has no PyTorch weights; give the "
                        "run directory or its model/ folder")
