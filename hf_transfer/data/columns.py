"""Every source in one shape: the input column renamed ``image`` or ``text`` and the label column ``label`` (a
ClassLabel), found by name or as configured (`pick_columns`), labels cleaned into classes (whole numbers, stray
spaces, a column of ids refused), and rows with an empty text or an unreadable image dropped with a count or
refused (`data.on_bad_rows`). `load_canonical(dataset, ...)` does all of it for one data set."""

from __future__ import annotations

import logging
from pathlib import Path

import datasets

from ..errors import ConfigError
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


def pick_columns(features, cfg, task: str, source: str) -> tuple[str, str, str]:
    """(task, input column, label column) of data with these `features` (datasets.Features): the configured
    ones, else found by name; a text column must hold strings."""
    columns = list(features)
    strings = [c for c, f in features.items() if getattr(f, "dtype", None) in ("string", "large_string")]
    if task == "auto":
        task = "image" if find_column(columns, "image", cfg.image_column, "data.image_column") else (
            "text" if find_column(columns, "text", cfg.text_column, "data.text_column") else "auto")
        if task == "auto":
            label = find_column(columns, "label", cfg.label_column, "data.label_column")
            texts = [c for c in strings if c != label]
            if len(texts) > 1:
                raise ConfigError(f"data.text_column: no column of {source} is named as a text column "
                                  f"({', '.join(CANDIDATES['text'])}) and {len(texts)} hold text "
                                  f"({', '.join(map(repr, texts))}): name the one to read with --text-column "
                                  "(data.text_column)")
            raise ConfigError(f"data.image_column / data.text_column: no image or text column found in {source}; "
                              f"available columns: {', '.join(columns)}" + delimiter_hint(columns))
    wanted = cfg.image_column if task == "image" else cfg.text_column
    x = find_column(columns, task, wanted, f"data.{task}_column")
    if x is None:
        raise ConfigError(f"data.{task}_column: no {task} column found in {source}; "
                          f"available columns: {', '.join(columns)}" + delimiter_hint(columns))
    if task == "text" and x not in strings:
        kind = getattr(features[x], "dtype", type(features[x]).__name__)
        raise ConfigError(f"data.text_column: column {x!r} of {source} holds {kind} values, not text; the text "
                          f"columns are: {', '.join(strings) or 'none'} (--text-column)")
    y = find_column(columns, "label", cfg.label_column, "data.label_column")
    if y is None:
        raise ConfigError(f"data.label_column: no label column found in {source}; available columns: {', '.join(columns)}"
                          + (_image_folder_hint(source) if task == "image" else delimiter_hint(columns)))
    return task, x, y


def _canonical(dd: datasets.DatasetDict, cfg, task: str, source: str) -> tuple[datasets.DatasetDict, str]:
    """Rename the input and label columns to image|text and label; drop the rest."""
    task, x, y = pick_columns(next(iter(dd.values())).features, cfg, task, source)
    dd = dd.select_columns([x, y])
    renames = {k: v for k, v in {x: task, y: "label"}.items() if k != v}
    return (dd.rename_columns(renames) if renames else dd), task


def _label_values(dd: datasets.DatasetDict) -> list:
    return sorted({v for split in dd.values() for v in split.unique("label") if v is not None and v != -1})


def _check_label_names(names: list[str]) -> None:
    """Class names go into tables (report, card): a newline or tab in one is refused."""
    bad = [n for n in names if any(c in str(n) for c in "\n\r\t")]
    if bad:
        raise ConfigError(f"data.label_column: the class name {bad[0]!r} holds a newline or tab; class names must be "
                          "one line: clean the label column")


def _whole_numbers(dd: datasets.DatasetDict, values: list) -> datasets.DatasetDict:
    """Float labels that are whole numbers (1.0, 2.0, as a csv writes class ids) become integers; others are refused."""
    broken = [v for v in values if not float(v).is_integer()]
    if broken:
        raise ConfigError(f"data.label_column: the labels are numbers that are not whole ({', '.join(map(str, broken[:3]))}"
                          f"{', ...' if len(broken) > 3 else ''}); class labels must be names or whole numbers (for a "
                          "regression target, this package is the wrong tool)")
    log.info("label: whole-number float labels (%s) read as integer classes", ", ".join(map(str, values[:5])))
    return dd.cast_column("label", datasets.Value("int64"))


def _stripped(dd: datasets.DatasetDict, values: list) -> datasets.DatasetDict:
    """String labels without the spaces around them: 'pos' and 'pos ' are one class (said in a warning)."""
    merged = sorted({v.strip() for v in values if v != v.strip() and v.strip() in values})
    if merged:
        log.warning("label: labels that differ only by spaces around them are one class: %s",
                    ", ".join(repr(m) for m in merged))
    return dd.map(lambda y: {"label": y.strip() if isinstance(y, str) else y}, input_columns="label")


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


def _as_class_labels(dd: datasets.DatasetDict) -> datasets.DatasetDict:
    """Make `label` a ClassLabel, with one mapping shared by every split."""
    feature = next(iter(dd.values())).features["label"]
    if isinstance(feature, datasets.ClassLabel):
        _check_label_names(feature.names)
        return dd
    values = _label_values(dd)
    if values and all(isinstance(v, float) for v in values):
        dd = _whole_numbers(dd, values)
        values = _label_values(dd)
    elif values and all(isinstance(v, str) for v in values) and any(v != v.strip() for v in values):
        dd = _stripped(dd, values)
        values = _label_values(dd)
    _check_label_names([str(v) for v in values])
    if all(isinstance(v, int) for v in values) and values != list(range(len(values))):
        # ids with gaps (1, 5, 10, 1000): one class per distinct value, named by it
        ids = {v: i for i, v in enumerate(values)}
        log.info("label: the %d distinct integer labels (%s) become class ids 0-%d, named by their value", len(values),
                 ", ".join(map(str, values[:8])) + (", ..." if len(values) > 8 else ""), len(values) - 1)
        dd = dd.map(lambda y: {"label": ids.get(y, -1)}, input_columns="label")
    return dd.cast_column("label", datasets.ClassLabel(names=[str(v) for v in values]))


def load_canonical(dataset: str, config_name: str | None, cfg, task: str, key: str, loaded=None):
    """(DatasetDict with image|text and label columns, bad rows handled, labels a ClassLabel; task) of `dataset`;
    `loaded`: its DatasetDict, when the caller already read it with load_source."""
    dd = loaded if loaded is not None else load_source(dataset, config_name, key, cfg.csv_delimiter)
    dd, task = _canonical(dd, cfg, task, dataset)
    return _as_class_labels(datasets.DatasetDict(
        {split: _drop_bad_rows(ds, bad_rows(ds, task), f"{dataset}/{split}", cfg.on_bad_rows)
         for split, ds in dd.items()})), task


def bad_rows(ds: datasets.Dataset, task: str) -> tuple[list[int], str]:
    """(rows, what is wrong with them): texts missing or blank, or image files PIL cannot read."""
    return _empty_texts(ds) if task == "text" else _unreadable_images(ds)


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
