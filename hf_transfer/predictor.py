"""A saved classifier, loaded to score new inputs: `load(path)` of any model hf-transfer saved.

    clf = hf_transfer.load("runs/tweets")          # a run directory, its model/, a pushed Hub repo's folder
    clf.predict(["the flight was late again"])     # [{"label": "negative", "score": 0.91, "probabilities": {...}}]

Every saved form loads: a fine-tuned or frozen_logreg timm / transformers model (its head, pooling,
bottleneck or hidden layers as saved), the TF-IDF baseline (tfidf.json + tfidf.safetensors), and an ONNX
export (`hf-transfer export`; run on onnxruntime, without PyTorch: `backend="onnx"` finds a run's). Inputs
go through exactly the preprocessing the run used: the run's `data` settings (max_length, image_size,
the image pipeline) from the config.yaml beside the model, and the same loaders as evaluation in the
run, so `predict` gives the labels `hf-transfer evaluate` scores.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import run_folder, tasks
from .config import DataConfig
from .errors import UserError
from .exported import folder as export_folder
from .tasks import DEFAULT, Task, get_task

log = logging.getLogger("hf_transfer")


@dataclass
class Classifier:
    """A loaded classifier: `log_probabilities` of a dataset of inputs, `predict` of a list of them."""

    modality: str  # "image" | "text"
    label_names: list[str]  # one per output: the classes, the tags, or (regression) the target's name
    data: DataConfig  # the preprocessing it was trained with
    config: object  # the run's Config (config.yaml beside the model), or None
    source: str  # where it was loaded from
    library: str  # timm | transformers | scikit-learn | onnxruntime
    model: object = None  # a models.TransferModel
    tfidf: object = None  # the TF-IDF baseline's scikit-learn pipeline
    exported: object = None  # an exported.session.ExportedModel (onnxruntime)
    task: Task = dataclasses.field(default_factory=lambda: get_task(DEFAULT))  # what it predicts

    def outputs(self, ds, batch_size: int = 64, desc: str = "predict") -> np.ndarray:
        """(rows, outputs) of `ds` (a datasets.Dataset with a ``text`` or ``image`` column) as the task reads them:
        logits or log-probabilities (single_label), logits (multi_label), values (regression)."""
        if self.exported is not None:
            return self.exported.log_probabilities(ds[self.modality], batch_size, f"{desc} (onnx)")
        if self.tfidf is not None:
            return self.task.linear_outputs(self.tfidf, np.asarray(ds["text"], dtype=object))
        return _model_outputs(self, ds, batch_size, desc)

    def log_probabilities(self, ds, batch_size: int = 64, desc: str = "predict") -> np.ndarray:
        """(rows, classes) log-probabilities of `ds`, for a single-label classifier."""
        import torch

        return torch.log_softmax(torch.as_tensor(self.outputs(ds, batch_size, desc)).float(), -1).numpy()

    def predict(self, inputs, batch_size: int = 64) -> list[dict]:
        """One dict per input (a text, or an image: a path or a PIL image; one of them alone, or a list), as its
        task says: the label, its probability and every class's (single_label); the labels above their thresholds
        and every label's probability (multi_label); the value and its conformal interval (regression)."""
        outputs = self.outputs(inputs_dataset(self.modality, _as_list(inputs)), batch_size)
        return self.task.predictions(outputs, self.label_names)


def _as_list(inputs) -> list:
    """A text, path or image alone is one input (never its characters); a list or other sequence, its items."""
    from PIL import Image

    if isinstance(inputs, (str, Path, Image.Image)):
        return [inputs]
    if isinstance(inputs, (dict, set, bytes)) or not hasattr(inputs, "__iter__"):
        raise UserError(f"predict: give a text or image, or a list of them, not a {type(inputs).__name__}")
    return list(inputs)


def inputs_dataset(modality: str, inputs: list):
    """A datasets.Dataset of raw inputs: texts, or images given as paths or PIL images."""
    import datasets

    if not inputs:
        raise UserError("predict: no inputs")
    if modality == "text":
        if not all(isinstance(x, str) for x in inputs):
            raise UserError("predict: a text model takes strings")
        blank = [i for i, x in enumerate(inputs) if not x.strip()]
        if blank:
            raise UserError(f"predict: input {blank[0]} (counted from 0) is an empty text; {len(blank)} of "
                            f"{len(inputs)} are: leave them out")
        return datasets.Dataset.from_dict({"text": inputs})
    inputs = [str(x) if isinstance(x, Path) else x for x in inputs]
    return datasets.Dataset.from_dict({"image": inputs}).cast_column("image", datasets.Image())


def model_batches(clf: Classifier, ds, batch_size: int, device, desc: str):
    """The model's input batches of `ds` on `device`, prepared by a run's eval loaders (its labels left in)."""
    from accelerate.utils import send_to_device
    from tqdm.auto import tqdm

    from .data.loaders import build_loaders
    from .data.splits import Splits

    splits = Splits(modality=clf.modality, label_names=clf.label_names, train=ds.select([0]), validation=None,
                    evals={"inputs": ds}, task=clf.task)  # the eval loaders of a run; the one-row train set is never read
    loaders = build_loaders(splits, clf.model, clf.data, 1, batch_size, seed=0, augment={})
    for batch in tqdm(loaders.evals["inputs"], desc=desc, leave=False):
        yield loaders.on_device(send_to_device(batch, device), False)


def _model_outputs(clf: Classifier, ds, batch_size: int, desc: str) -> np.ndarray:
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    clf.model.to(device).eval()
    chunks = []
    with torch.no_grad():
        for batch in model_batches(clf, ds, batch_size, device, desc):
            chunks.append(clf.model(batch).float().cpu())
    return torch.cat(chunks).numpy()


def folders(path: str) -> tuple[Path, Path | None]:
    """(the model folder, the run's config.yaml or None) of a run directory, a model folder or a Hub id."""
    folder = Path(path).expanduser()
    if not folder.exists():
        local = path.startswith((".", "/", "~")) or folder.parent.is_dir() and str(folder.parent) != "."
        if local or "/" not in path or path.count("/") > 1:  # runs/typo: a missing folder, not a Hub id
            raise UserError(f"model: {path!r} does not exist (not a run directory, a model folder or a Hub id "
                            "OWNER/NAME)")
        folder = _download(path)
    if not folder.is_dir():
        raise UserError(f"model: {path!r} is a file; give a run directory or its model/ folder")
    if (folder / run_folder.CONFIG).is_file() and not (folder / "config.json").is_file() and not _is_tfidf(folder) \
            and not export_folder.is_export(folder):
        model = folder / run_folder.MODEL  # a run directory
        if not model.is_dir():
            raise UserError(f"model: run {path!r} has no {run_folder.MODEL}/ (it has not finished: see its metrics.json)")
        return model, folder / run_folder.CONFIG
    config = next((c for c in (folder / run_folder.CONFIG, folder.parent / run_folder.CONFIG) if c.is_file()), None)
    return folder, config  # a pushed repo holds config.yaml beside the weights; a run's model/ has it one up


def _backend_folder(folder: Path, config: Path | None, backend: str, path: str) -> Path:
    """The folder `backend` reads: an export for onnx (the folder itself, or the run's onnx/), else `folder`."""
    if backend == "torch":
        export_folder.refuse_for_torch(folder, "model")
    if backend != "onnx" or export_folder.is_export(folder):
        return folder
    candidates = [folder / export_folder.EXPORT_DIR] + ([config.parent / export_folder.EXPORT_DIR] if config else [])
    found = next((c for c in candidates if export_folder.is_export(c)), None)
    if found is None:
        raise UserError(f"--backend onnx: {path!r} has no ONNX export (an {export_folder.EXPORT_DIR}/ folder with "
                        f"{export_folder.EXPORT_JSON}); make one with: hf-transfer export {path}")
    return found


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    from .offline import check_hub

    check_hub()
    try:
        return Path(snapshot_download(repo_id))
    except Exception as e:  # network, auth, a missing repo: all one line
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"model: Hub repository {repo_id!r} could not be downloaded ({reason}); it is not a local "
                        "folder, so it needs the Hugging Face Hub (network)") from e


def _is_tfidf(folder: Path) -> bool:
    from .runs.logreg import TFIDF_JSON

    return (folder / TFIDF_JSON).is_file()


def _saved_labels(folder: Path) -> tuple[list[str], str, str, str | None]:
    """(label names, library, modality, problem_type) from a saved model's config.json, or a one-line refusal."""
    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"model: {folder} holds no saved model (no config.json or tfidf.json)")
    from .models import resolve

    resolved = resolve(str(folder))
    config, adapter = resolved.config, resolved.adapter
    names = adapter.saved_label_names(config)
    if names and all(n == f"LABEL_{i}" for i, n in enumerate(names)):
        names = None  # transformers' placeholders: the model was saved without its labels
    if not names:
        raise UserError(f"model: {folder} has no class names in its config.json (label_names / id2label); "
                        "it was not saved as a classifier with its labels")
    from .models.saved_config import check_distinct

    check_distinct(list(names), f"model.name: {path}")
    return list(names), adapter.name, adapter.saved_modality(config), config.get("problem_type")


BACKENDS = ("auto", "torch", "onnx")


def load(path: str | Path, max_length: int | None = None, image_size: int | None = None,
         backend: str = "auto") -> Classifier:
    """The classifier saved at `path`: a run directory, its model/ folder, a downloaded or local Hub model
    folder, an ONNX export, or a Hub id. Preprocessing comes from the run's config.yaml when there is one (else
    the data defaults); `max_length` / `image_size` override it (not an export's: it was fixed when exported).
    `backend`: auto (an export on onnxruntime, anything else in PyTorch), torch, or onnx (an export, or a run's
    own onnx/ folder)."""
    from . import config as config_mod

    if backend not in BACKENDS:
        raise UserError(f"--backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    folder, config = folders(str(path))
    folder = _backend_folder(folder, config, backend, str(path))
    run = config_mod.load(str(config)) if config is not None else None  # an export's: the run's columns
    given = {k: v for k, v in (("max_length", max_length), ("image_size", image_size)) if v is not None}
    data = dataclasses.replace(run.data if run is not None else DataConfig(), **given)
    if export_folder.is_export(folder):
        from .exported.session import ExportedModel

        exported = ExportedModel(folder)
        return Classifier(exported.modality, exported.label_names, data, run, str(path), "onnxruntime", exported=exported)
    if _is_tfidf(folder):
        from .runs.logreg import load_tfidf

        task = tasks.read_saved(folder)
        pipeline, names = load_tfidf(folder, task)
        return Classifier("text", list(names), data, run, str(path), "scikit-learn", tfidf=pipeline, task=task)
    names, library, modality, problem_type = _saved_labels(folder)
    from .config import ModelConfig
    from .models import load_backbone

    model = load_backbone(ModelConfig(name=str(folder), library=library, new_head_init="default"), modality, names)
    if model.head_is_new:
        raise UserError(f"model: the classifier head in {folder} did not load (its weights do not match "
                        f"{len(names)} classes); the folder is not a complete saved classifier")
    return Classifier(modality, names, data, run, str(path), library, model=model,
                      task=tasks.read_saved(folder, problem_type))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def read_inputs(path: str, modality: str, text_column: str | None = None, delimiter: str | None = None):
    """(inputs dataset with a ``text`` or ``image`` column, the rows as a pandas table for the output) of a
    file or folder: images (a folder, searched recursively, or one image file), or texts (a .txt file, one
    per line; a csv/tsv/json/jsonl/parquet file, its text column)."""
    import pandas as pd

    source = Path(path).expanduser()
    if not source.exists():
        raise UserError(f"--input: {path!r} does not exist")
    if modality == "image":
        files = ([source] if source.is_file() else
                 sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        if source.is_file() and source.suffix.lower() not in IMAGE_SUFFIXES:
            raise UserError(f"--input: an image model reads image files or a folder of them; {path!r} is not an image")
        if not files:
            raise UserError(f"--input: no image files ({', '.join(IMAGE_SUFFIXES)}) in {path!r}")
        rows = pd.DataFrame({"path": [str(f.relative_to(source)) if source.is_dir() else f.name for f in files]})
        return inputs_dataset("image", files), rows
    if source.is_dir():
        raise UserError(f"--input: a text model reads a .txt, csv, tsv, json, jsonl or parquet file; {path!r} is a folder")
    if source.suffix.lower() == ".txt":
        texts = source.read_text().splitlines()  # a blank line stays a row (left unlabelled), so rows match lines
        rows = pd.DataFrame({"text": texts})
    else:
        from .data.columns import find_column
        from .data.readers import load_source

        table = next(iter(load_source(str(source), None, "--input", delimiter).values()))
        column = find_column(table.column_names, "text", text_column, "--text-column") or _only_text(table)
        rows = table.to_pandas()
        texts = ["" if pd.isna(t) else str(t) for t in rows[column]]  # a missing cell is NaN in pandas, not "nan"
    if not any(t.strip() for t in texts):
        raise UserError(f"--input: {path!r} has no rows{' with text' if texts else ''}")
    import datasets

    return datasets.Dataset.from_dict({"text": texts}), rows


def _only_text(table) -> str:
    strings = [c for c, f in table.features.items() if getattr(f, "dtype", None) in ("string", "large_string")]
    if len(strings) != 1:
        raise UserError(f"--text-column: which column holds the text? columns: {', '.join(table.column_names)}")
    return strings[0]


def predict_file(model: str, path: str, output: str, top_k: int = 3, batch_size: int = 64,
                 text_column: str | None = None, overwrite: bool = False, abstain_below: float | None = None,
                 backend: str = "auto", coverage: float | None = None) -> Path:
    """predictions.csv of every row or image of `path`: the input's own columns, then the task's columns.
    single_label: label, score (its probability), the top-k labels with their probabilities, and p_<class> for every
    class; with `abstain_below`, a row whose score is below it gets an empty label and abstained=true. multi_label:
    labels (those above their thresholds, joined by ';') and p_<label>. regression: the value, and the conformal
    interval (lower, upper) of `coverage` (default 0.9)."""
    output = Path(output)
    _check_output(output, overwrite)
    folder, config = folders(model) if Path(model).expanduser().exists() else (None, None)
    run_folder.refuse_inputs(output, "-o", [("the input", path), ("the model", model), ("the model folder", folder),
                                            ("the run's config", config)], sealed=("the model folder",))
    clf = load(model, backend=backend)
    ds, rows = read_inputs(path, clf.modality, text_column, clf.data.csv_delimiter)
    outputs, note = _scored_rows(clf, ds, batch_size, path)
    options = {k: v for k, v in (("abstain_below", abstain_below), ("coverage", coverage)) if v is not None}
    unused = [k for k in options if k not in inspect.signature(clf.task.columns).parameters]
    if unused:
        raise UserError(f"--{unused[0].replace('_', '-')}: not an option of a {clf.task.name} model's predictions")
    for column, values in clf.task.columns(outputs, clf.label_names, top_k=top_k, **options).items():
        rows[column] = values
    if note is not None:
        rows["note"] = note
    output.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(output, index=False)
    return output


def _scored_rows(clf: Classifier, ds, batch_size: int, path: str) -> tuple[np.ndarray, list | None]:
    """(outputs, one row per input: NaN for the rows left unlabelled; a note per row, or None when every
    row was scored). An empty text or an unreadable image is left unlabelled, counted in a warning."""
    from .data.columns import bad_rows

    bad, problem = bad_rows(ds, clf.modality)
    reason = problem.split(" (")[0]  # without the file names it lists
    if len(bad) == len(ds):
        raise UserError(f"--input: every one of the {len(ds)} rows of {path!r} has {reason}")
    bad = set(bad)
    keep = [i for i in range(len(ds)) if i not in bad]
    p = np.full((len(ds), len(clf.label_names)), np.nan)
    p[keep] = clf.outputs(ds.select(keep) if bad else ds, batch_size)
    if not bad:
        return p, None
    log.warning("predict: %d of the %d rows have %s: left unlabelled (empty label and scores; see the note column)",
                len(bad), len(ds), problem)
    return p, [reason if i in bad else "" for i in range(len(ds))]


def _check_output(output: Path, overwrite: bool) -> None:
    """-o: a file to write, under folders (not files), not a folder; an existing one only with --overwrite."""
    if output.is_dir():
        raise UserError(f"-o: {str(output)!r} is a folder; give the csv file to write, e.g. {str(output / 'predictions.csv')!r}")
    blocking = next((p for p in output.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UserError(f"-o: {str(blocking)!r} is a file, so {str(output)!r} cannot be written under it; choose another path")
    if output.exists() and not overwrite:
        raise UserError(f"-o: {str(output)!r} exists; pass --overwrite to replace it, or choose another file")
