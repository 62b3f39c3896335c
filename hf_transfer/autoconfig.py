"""A run's config built from the data, for `hf-transfer run --model M --dataset D` without a config file.

The data decides the modality and the columns (image or text, the label column, found by name or given),
the splits (train; test when the data has one; validation carved from train when it has none) and, for
small images, the input size. The training settings are the ones measured best on small data here
(benchmarks/RESULTS.md, "Does the transfer pay off?" and "A text head that learns"): for text, all-MiniLM-style
fine-tuning at lr 1e-4 with 10 % warmup and linear decay, at least 150 optimizer steps, a sentence-embedding
checkpoint's pooling without its unit-length normalisation, and the epoch picked (and early stopping) on validation
macro-F1 only when validation has 500 rows or more, else the last epoch; for images, the digits recipe's AdamW
at 2e-3 with cosine decay, mild crops and no flips. Class weights are 'auto' (balanced when the classes are
imbalanced). Everything chosen is printed and written to the run's
config.yaml, so the run can be repeated and edited.
"""

from __future__ import annotations

import math
from pathlib import Path

from . import config as config_mod
from .errors import UserError

TEXT_TRAIN = {"epochs": 3, "batch_size": 16, "lr": 1e-4, "weight_decay": 0.01, "scheduler": "linear",
              "warmup_ratio": 0.1, "min_steps": 150, "early_stopping_patience": 3, "class_weights": "auto",
              "min_validation_rows": 500}
IMAGE_TRAIN = {"epochs": 3, "batch_size": 32, "lr": 2e-3, "weight_decay": 0.01, "scheduler": "cosine",
               "warmup_ratio": 0.05, "class_weights": "auto"}
# train.metric_for_best is left to the task: macro-F1 for classes, micro-F1 for tags, negative MAE for a number
# mild crops, no flips: a flip changes what digits, text and left/right mean (MNIST: -0.03 macro-F1 with timm's
# default flip of 0.5, benchmarks/RESULTS.md section 10); set data.augment to flip natural photos
IMAGE_AUGMENT = {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1]}
SMALL_IMAGE = 64  # images no larger than this are fed at their own size (rounded up to 32), not upscaled


SETTINGS = "{settings}"  # in the training line: the settings as the run uses them (after --epochs, --set)


def settled(lines: list[str], cfg: config_mod.Config) -> list[str]:
    """`from_data`'s lines with the training settings of `cfg`, the config as overridden and run."""
    keys = TEXT_TRAIN if cfg.data.text_column else IMAGE_TRAIN
    settings = ", ".join(f"{k}={getattr(cfg.train, k)}" for k in keys)
    return [line.replace(SETTINGS, settings) for line in lines]


def _name(text: str) -> str:
    return Path(text.split(":", 1)[-1].rstrip("/")).stem.replace("/", "_") or "data"


def _fixed_input(model: str) -> bool | None:
    """Whether a timm model needs its own input size (a ViT's position grid), from its saved config; None if unknown."""
    from .models import resolve

    try:
        config = resolve(model).config
    except Exception:
        return None
    if config is None or "pretrained_cfg" not in config:  # a timm folder's config says it
        return None
    return bool(config["pretrained_cfg"].get("fixed_input_size", False))


def _unnormalized_pooling(model: str) -> str | None:
    """The pooling mode of a sentence-embedding checkpoint that ends in unit-length features, to feed a new head the
    same pooling without the normalisation; None for any other model, or when its layout cannot be read.

    Unit length serves cosine similarity; a zero-initialised linear head on it starts with logits near 0 that grow
    by about lr x ||x||_1 per step, so at lr 1e-4 it still says ~0.38 for the 3 classes of a tweet after 300 steps
    and temperature scaling has to multiply its logits by 6-14 (benchmarks/RESULTS.md, "A text head that learns")."""
    from .models import pooling, resolve

    try:
        found = resolve(model)
        read = pooling.read(found.ref) if found.local else pooling.from_hub(found.ref)
    except Exception:  # not a sentence-transformers layout that can be read here: the library's own choice
        return None
    return read.mode if read is not None and read.normalize else None


def _first_image_side(ds, column: str, dataset: str) -> int:
    """The larger side of the first training image that can be read (a corrupt one is dropped by the run)."""
    for i in range(min(len(ds), 100)):
        try:
            return max(ds[i][column].size)
        except Exception:  # PIL's errors for an unreadable or oversized file: the next one
            continue
    raise UserError(f"--dataset: none of the first {min(len(ds), 100)} training images of {dataset} can be read")


def from_data(model: str, dataset: str, label_column: str | None = None, text_column: str | None = None,
              image_column: str | None = None, target: str | None = None, output_dir: str | None = None,
              task: str = "auto", label_separator: str | None = None,
              label_columns: list | None = None) -> tuple[config_mod.Config, list[str]]:
    """(config, lines saying what was chosen and why) for `model` on `dataset`."""
    from .data.columns import labels_of, pick_columns
    from .data.readers import load_source

    columns = {"label_column": label_column, "text_column": text_column, "image_column": image_column,
               "label_separator": label_separator, "label_columns": list(label_columns or [])}
    given = config_mod.DataConfig(dataset=dataset, **columns)
    dd = load_source(dataset, None, "--dataset")
    train_split = "train" if "train" in dd else next(iter(dd))
    modality, x, y = pick_columns(dd[train_split].features, given, "auto", dataset)
    data = {"dataset": dataset, f"{modality}_column": x, "train_split": train_split,
            "eval_splits": [s for s in ("test",) if s in dd and s != train_split],
            **({"label_columns": list(y)} if isinstance(y, list) else {"label_column": y}),
            **({"label_separator": label_separator} if label_separator else {})}
    found, why, labels, names = labels_of(dd[train_split], given, y, task)
    said = f"{found.name}{f' ({why})' if why else ''}"
    lines = [f"data: {modality} {said}, input column {x!r}, labels in {y!r}: {found.summary(labels, names)}, "
             f"{len(dd[train_split])} training rows ({train_split!r})",
             "validation: " + ("the data's 'validation' split" if "validation" in dd else
                               f"10 % of the training rows{', stratified' if found.stratified else ''}") + (
                 f" (fits the temperature; picks the epoch and stops early only with {TEXT_TRAIN['min_validation_rows']} "
                 "rows or more, else the last epoch is kept)" if modality == "text" else
                 " (picks the best epoch, early stopping)"),
             "test: " + (f"the data's 'test' split ({len(dd['test'])} rows)" if data["eval_splits"] else
                         "none in the data, so only the carved validation set is scored; give a folder with "
                         "train and test files for a held-out score")]
    train = dict(TEXT_TRAIN if modality == "text" else IMAGE_TRAIN)
    if modality == "image":
        data["augment"] = dict(IMAGE_AUGMENT)
        side = _first_image_side(dd[train_split], x, dataset)
        if side <= SMALL_IMAGE and _fixed_input(model) is False:
            data["image_size"] = max(32, 32 * math.ceil(side / 32))
            lines.append(f"images: {side} px, fed at {data['image_size']} px (not upscaled to the model's own size)")
    if target:
        data["target"] = {"dataset": target}
        lines.append(f"target domain: {target} (its train split unlabelled, its test split scored as 'target')")
    model_settings = {"name": model}
    if modality == "text" and (mode := _unnormalized_pooling(model)):
        model_settings["pooling"] = mode
        lines.append(f"pooling: {mode} of the token states as the checkpoint pools, without its unit-length "
                     "normalisation (a new head on unit-length features learns its scale slowly)")
    weights = found.weights_note(labels, names)
    lines.append(f"training: {SETTINGS} (the small-data defaults: README, Your own data)"
                 + (f"; class_weights auto = {weights}" if weights else ""))
    name = f"{_name(dataset)}_{_name(model)}"
    cfg = config_mod.from_dict({"name": name, "output_dir": output_dir or f"runs/{name}", "model": model_settings,
                                "data": data, "train": train, "task": found.name if why or task != "auto" else "auto"})
    return cfg, lines
