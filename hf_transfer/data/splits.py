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

import datasets
import numpy as np

from ..errors import ConfigError
from ..tasks import DEFAULT, Task, get_task
from .columns import load_canonical

log = logging.getLogger(__name__)

@dataclass
class Splits:
    modality: str  # "image" | "text"
    label_names: list[str]
    train: datasets.Dataset
    validation: datasets.Dataset | None
    evals: dict[str, datasets.Dataset] = field(default_factory=dict)  # name -> set, reported
    dataset_ids: dict[str, str] = field(default_factory=dict)  # eval name -> "dataset/split", for cards
    target_train: datasets.Dataset | None = None  # unlabelled target domain (no label column)
    domains: dict[str, str] = field(default_factory=dict)  # {"source": eval set, "target": "target"}
    warnings: list[str] = field(default_factory=list)  # what the data itself limits (metrics.json, report, card)
    task: Task = field(default_factory=lambda: get_task(DEFAULT))  # what the model predicts

    @property
    def eval_sets(self) -> dict[str, datasets.Dataset]:
        """Every set evaluated each epoch: validation first, then the reported ones."""
        sets = {"validation": self.validation} if self.validation is not None else {}
        return {**sets, **self.evals}


def labelled_rows(ds: datasets.Dataset, name: str, task: Task) -> datasets.Dataset:
    """The rows with a label: an empty label cell (None) or -1 (a hidden test label) is left out, with a warning."""
    kept = ds.filter(task.labelled, input_columns="label")
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


def _split(dd: datasets.DatasetDict, split: str, key: str, source: str) -> datasets.Dataset:
    if split not in dd:
        raise ConfigError(f"{key}: split {split!r} not in {source}; it has: {', '.join(dd)}")
    return dd[split]


def _target(cfg, modality: str, task: Task, names: list[str], seed: int, train_on: str):
    """(labelled target train or None, unlabelled target train, {name: labelled target eval set}) of `data.target`:
    'target' (its test split) and, with validation_samples, 'target_validation' (carved from its train split, for
    choices across runs). The labelled train set is only made for the baselines that train on target labels."""
    t = cfg.target
    if not task.single_class:
        raise ConfigError(f"data.target.dataset: domain adaptation reads one class per row; task {task.name} has "
                          "none (score another domain with data.extra_eval or hf-transfer evaluate instead)")
    dd = load_canonical(t.dataset, t.config_name, cfg, modality, "data.target.dataset", task=task)[0]
    train = _split(dd, t.train_split, "data.target.train_split", t.dataset)
    test = labelled_rows(_split(dd, t.test_split, "data.target.test_split", t.dataset), "target " + t.test_split, task)
    evals = {"target": task.align(test, names, "data.target.dataset")}
    # shuffled, not stratified (that would read the labels); the first validation_samples rows are the dev set
    order = train.shuffle(seed=seed)
    if t.validation_samples:
        if t.validation_samples >= len(train):
            raise ConfigError(f"data.target.validation_samples: {t.validation_samples} of the {len(train)} target "
                              f"{t.train_split} rows would leave none to adapt on")
        dev = order.select(range(t.validation_samples))
        evals["target_validation"] = task.align(labelled_rows(dev, "target validation", task), names,
                                                "data.target.dataset")
        train = order = order.select(range(t.validation_samples, len(order)))
    unlabelled = order.select(range(min(len(order), t.max_train_samples or len(order))))
    labelled = None
    if train_on != "source":
        labelled = subsample(task.align(labelled_rows(train, "target " + t.train_split, task), names,
                                        "data.target.dataset"), t.max_train_samples, seed)
    return labelled, unlabelled.remove_columns("label"), evals


def _validation(dd, train, cfg, task: Task, num_classes: int, seed: int):
    """(train, validation): data.validation_split when the data has it, else a part of train (stratified by class
    for a task that has one class per row)."""
    if cfg.validation_split is None:
        return train, None
    if cfg.validation_split in dd and cfg.validation_split != cfg.train_split:
        return train, labelled_rows(dd[cfg.validation_split], cfg.validation_split, task)
    if not task.stratified:
        size = max(round(cfg.validation_size * len(train)), 1)
        if len(train) - size < 2:
            raise ConfigError(f"data.validation_split: {len(train)} training rows are too few to carve a validation "
                              "set from; give the data a validation split or set data.validation_split: null")
        parts = train.train_test_split(test_size=size, seed=seed)
        return parts["train"], parts["test"]
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


def _eval_sets(dd, cfg, modality: str, task: Task, names: list[str]) -> tuple[dict, dict]:
    """({name: set}, {name: 'dataset/split'}) of data.eval_splits and data.extra_eval."""
    evals, ids = {}, {}
    for split in cfg.eval_splits:
        if split == cfg.train_split:
            raise ConfigError(f"data.eval_splits: {split!r} is the training split; evaluate on held-out data")
        evals[split] = labelled_rows(_split(dd, split, "data.eval_splits", cfg.dataset), split, task)
        ids[split] = f"{cfg.dataset}/{split}"
    for name, src in cfg.extra_eval.items():
        key = f"data.extra_eval.{name}"
        other = load_canonical(src.dataset, src.config_name, cfg, modality, key + ".dataset", task=task)[0]
        evals[name] = task.align(labelled_rows(_split(other, src.split, key + ".split", src.dataset), name, task),
                                 names, key)
        ids[name] = f"{src.dataset}/{src.split}"
    return evals, ids


def _check_sizes(train, evals: dict, target_train) -> None:
    """Every set has labelled samples, the target train split samples."""
    for name, ds in {"train": train, **evals}.items():
        if len(ds) == 0:
            raise ConfigError(f"data: the {name!r} set has no labelled samples")
    if target_train is not None and len(target_train) == 0:
        raise ConfigError("data.target.train_split: the target train split is empty")


def build_splits(cfg, modality: str = "auto", seed: int = 42, train_on: str = "source", task: str = "auto") -> Splits:
    """Load, map columns, carve validation, limit sizes: everything `train` needs.

    `train_on` (from the strategy): ``source``, or with `data.target`, ``target_labelled`` (the
    `data.target.labelled_samples` few) or ``target`` (all labelled target train samples). `task`: the config's
    (auto: from the label column).
    """
    dd, modality, task, names = load_canonical(cfg.dataset, cfg.config_name, cfg, modality, "data.dataset", task=task)
    train = labelled_rows(_split(dd, cfg.train_split, "data.train_split", cfg.dataset), cfg.train_split, task)
    train, validation = _validation(dd, train, cfg, task, len(names), seed)
    train = subsample(train, cfg.max_train_samples, seed)
    evals, ids = _eval_sets(dd, cfg, modality, task, names)
    target_train, domains = None, {}
    if cfg.labelled_per_class and not task.single_class:
        raise ConfigError(f"data.labelled_per_class: counts labels per class; task {task.name} has no one class per row")
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
        labelled, target_train, target_evals = _target(cfg, modality, task, names, seed, train_on)
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
    _check_sizes(train, evals, target_train)
    warnings = task.check_train(train, names)
    warnings += task.eval_warnings(train, {"validation": validation, **evals} if validation else evals, names)
    for w in warnings:
        log.warning(w)
    return Splits(modality=modality, label_names=names, train=train, validation=validation, evals=evals, dataset_ids=ids,
                  target_train=target_train, domains=domains, warnings=warnings, task=task)
