"""Every source in one shape: the input column renamed ``image`` or ``text`` and the label column ``label`` (a
ClassLabel), found by name or as configured (`pick_columns`), labels cleaned into classes (whole numbers, stray
spaces, a column of ids refused), and rows with an empty text or an unreadable image dropped with a count or
refused (`data.on_bad_rows`). `load_canonical(dataset, ...)` does all of it for one data set."""

from __future__ import annotations

import logging
from pathlib import Path

import datasets

from ..errors import ConfigError
from ..tasks import Task, detect, get_task
from .readers import delimiter_hint, load_source

log = logging.getLogger(__name__)

CANDIDATES = {
    "image": ("image", "img", "picture", "photo"),
    "text": ("text", "sentence", "content", "review", "document"),
    "label": ("label", "labels", "fine_label", "target", "class"),
}


def find_column(columns: list[str], kind: str, wanted: str | None, key: str) -> str | None:
    """The column holding `kind` (image/text/label): the configured one, or the first known name."""
    if wanted is not None:
        if wanted not in columns:
            raise ConfigError(f"{key}: column {wanted!r} not found; available columns: {', '.join(columns)}"
                              + delimiter_hint(columns))
        return wanted
    return next((c for c in CANDIDATES[kind] if c in columns), None)


def pick_columns(features, cfg, modality: str, source: str) -> tuple[str, str, str]:
    """(modality, input column, label column) of data with these `features` (datasets.Features): the configured
    ones, else found by name; a text column must hold strings."""
    columns = list(features)
    strings = [c for c, f in features.items() if getattr(f, "dtype", None) in ("string", "large_string")]
    if modality == "auto":
        modality = "image" if find_column(columns, "image", cfg.image_column, "data.image_column") else (
            "text" if find_column(columns, "text", cfg.text_column, "data.text_column") else "auto")
        if modality == "auto":
            label = find_column(columns, "label", cfg.label_column, "data.label_column")
            texts = [c for c in strings if c != label]
            if len(texts) > 1:
                raise ConfigError(f"data.text_column: no column of {source} is named as a text column "
                                  f"({', '.join(CANDIDATES['text'])}) and {len(texts)} hold text "
                                  f"({', '.join(map(repr, texts))}): name the one to read with --text-column "
                                  "(data.text_column)")
            raise ConfigError(f"data.image_column / data.text_column: no image or text column found in {source}; "
                              f"available columns: {', '.join(columns)}" + delimiter_hint(columns))
    wanted = cfg.image_column if modality == "image" else cfg.text_column
    x = find_column(columns, modality, wanted, f"data.{modality}_column")
    if x is None:
        raise ConfigError(f"data.{modality}_column: no {modality} column found in {source}; "
                          f"available columns: {', '.join(columns)}" + delimiter_hint(columns))
    if modality == "text" and x not in strings:
        kind = getattr(features[x], "dtype", type(features[x]).__name__)
        raise ConfigError(f"data.text_column: column {x!r} of {source} holds {kind} values, not text; the text "
                          f"columns are: {', '.join(strings) or 'none'} (--text-column)")
    if getattr(cfg, "label_columns", None):
        missing = [c for c in cfg.label_columns if c not in columns]
        if missing:
            raise ConfigError(f"data.label_columns: column {missing[0]!r} not found; available columns: {', '.join(columns)}")
        return modality, x, list(cfg.label_columns)
    y = find_column(columns, "label", cfg.label_column, "data.label_column")
    if y is None:
        raise ConfigError(f"data.label_column: no label column found in {source}; available columns: {', '.join(columns)}"
                          + (_image_folder_hint(source) if modality == "image" else delimiter_hint(columns)))
    return modality, x, y


def _canonical(dd: datasets.DatasetDict, cfg, modality: str, source: str) -> tuple[datasets.DatasetDict, str, str]:
    """(the data with the input and label columns renamed image|text and label, the rest dropped; modality; the
    label column's own name). Several 0/1 label columns (data.label_columns) become one column of label lists."""
    modality, x, y = pick_columns(next(iter(dd.values())).features, cfg, modality, source)
    if isinstance(y, list):
        dd = _joined_columns(dd.select_columns([x, *y]), y)
        return (dd.rename_column(x, modality) if x != modality else dd), modality, "labels"
    dd = dd.select_columns([x, y])
    renames = {k: v for k, v in {x: modality, y: "label"}.items() if k != v}
    return (dd.rename_columns(renames) if renames else dd), modality, y


def _joined_columns(dd: datasets.DatasetDict, columns: list[str]) -> datasets.DatasetDict:
    """data.label_columns: each row's label list, the names of its columns holding 1."""
    for split, ds in dd.items():
        for c in columns:
            wrong = next((v for v in ds.unique(c) if v not in (0, 1, True, False, 0.0, 1.0)), "none")
            if wrong != "none":
                raise ConfigError(f"data.label_columns: column {c!r} of {split} holds {wrong!r}; each label column "
                                  "must hold 0 or 1")
    return dd.map(lambda row: {"label": [c for c in columns if row[c]]}, remove_columns=columns, desc="Labels")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _image_folder_hint(source: str) -> str:
    """Why an image folder gave no labels: its images lie at different depths (nested class folders), so the
    folder an image is in cannot be read as its class."""
    root = Path(source).expanduser()
    if not root.is_dir():
        return ""
    depths = {}
    for p in root.rglob("*"):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            depths.setdefault(len(p.relative_to(root).parts), p.relative_to(root).as_posix())
    if len(depths) < 2:
        return ""
    examples = ", ".join(depths[d] for d in sorted(depths)[:3])
    return (f"; an image folder's class is the name of the folder each image is in, and the images of {source} lie at "
            f"different depths ({examples}): put each image one folder below its class (ROOT/CLASS/IMAGE or "
            "ROOT/SPLIT/CLASS/IMAGE)")


def load_canonical(dataset: str, config_name: str | None, cfg, modality: str, key: str, loaded=None,
                   task: str | Task = "auto"):
    """(DatasetDict with image|text and label columns, bad rows handled, labels in the task's form; modality; the
    task; the label names) of `dataset`; `task`: a Task (an eval set of a run), a task's name, or auto (detected
    from the label column); `loaded`: its DatasetDict, when the caller already read it with load_source."""
    dd = loaded if loaded is not None else load_source(dataset, config_name, key, cfg.csv_delimiter)
    dd, modality, column = _canonical(dd, cfg, modality, dataset)
    dd = datasets.DatasetDict({split: _drop_bad_rows(ds, bad_rows(ds, modality), f"{dataset}/{split}", cfg.on_bad_rows)
                               for split, ds in dd.items()})
    if isinstance(task, str):
        task, why = _task(dd, cfg, task)
        if why:
            log.info("task: %s (%s; --task single_label reads it as classes)", task.name, why)
    dd, names = task.prepare(dd, cfg, column)
    return dd, modality, task, names


def _task(dd: datasets.DatasetDict, cfg, name: str) -> tuple[Task, str | None]:
    """(the task named, or (auto) the one the label column asks for; why, for a task found in the data)."""
    if name != "auto":
        return get_task(name), None
    feature = next(iter(dd.values())).features["label"]
    values = [v for ds in dd.values() for v in ds.unique("label")] if not isinstance(feature, datasets.Sequence) else []
    found, why = detect(values, feature, cfg)
    return get_task(found), why


def labels_of(ds: datasets.Dataset, cfg, column: str | list, task: str = "auto") -> tuple[Task, str | None, list, list]:
    """(task, why it was found in the data, the labels in the task's form, the label names) of one split's label
    column (or data.label_columns), for the config-less run's printed choice."""
    if isinstance(column, list):
        dd, name = _joined_columns(datasets.DatasetDict({"train": ds.select_columns(column)}), column), "labels"
    else:
        dd, name = datasets.DatasetDict({"train": ds.select_columns([column]).rename_column(column, "label")
                                         if column != "label" else ds.select_columns([column])}), column
    found, why = _task(dd, cfg, task)
    dd, names = found.prepare(dd, cfg, name)
    return found, why, dd["train"]["label"], names


def bad_rows(ds: datasets.Dataset, modality: str) -> tuple[list[int], str]:
    """(rows, what is wrong with them): texts missing or blank, or image files PIL cannot read."""
    return _empty_texts(ds) if modality == "text" else _unreadable_images(ds)


def _empty_texts(ds: datasets.Dataset) -> tuple[list[int], str]:
    """(rows, what is wrong with them): the rows whose text is missing or blank."""
    return [i for i, text in enumerate(ds["text"]) if not isinstance(text, str) or not text.strip()], \
        "an empty or missing text"


def _unreadable_images(ds: datasets.Dataset) -> tuple[list[int], str]:
    """The rows whose image is a file PIL cannot read (zero bytes, not an image, a broken header). Images
    stored as bytes (Hub parquet, the packaged sets) were encoded by a program and are not checked."""
    from PIL import Image

    if not isinstance(ds.features.get("image"), datasets.Image):
        return [], ""
    raw = ds.cast_column("image", datasets.Image(decode=False))
    bad, paths = [], []
    for start in range(0, len(raw), 1000):
        for i, item in enumerate(raw[start:start + 1000]["image"], start):
            if item is not None and item.get("bytes") is not None:
                continue
            try:
                with Image.open(item["path"]) as image:
                    image.verify()
            except Exception:
                bad.append(i)
                paths.append(Path(item["path"]).name if item and item.get("path") else "no image")
    return bad, f"an unreadable image ({', '.join(paths[:3])}{', ...' if len(bad) > 3 else ''})"


def _drop_bad_rows(ds: datasets.Dataset, found: tuple[list[int], str], where: str, policy: str) -> datasets.Dataset:
    """`ds` without the rows `found` bad (data.on_bad_rows: drop, with a warning), or a one-line refusal."""
    bad, problem = found
    if not bad:
        return ds
    rows = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
    what = f"{len(bad)} of the {len(ds)} rows of {where} have {problem} (rows {rows}, counted from 0)"
    if policy == "error":
        raise ConfigError(f"data.on_bad_rows: {what}; fix them, or set data.on_bad_rows: drop")
    log.warning("%s: dropped (data.on_bad_rows: drop)", what)
    drop = set(bad)
    return ds.select([i for i in range(len(ds)) if i not in drop])
