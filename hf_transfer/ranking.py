"""Which backbone should I start from? `hf-transfer rank`: transferability scores from one forward pass.

`score(model, dataset)` runs a candidate backbone (any form `model.name` accepts) once over up to
`max_samples` labelled samples of the target data, frozen, and scores how well its features (or
its source classifier's predictions) fit the target labels with the estimators of transferability.py
(LogME, H-score; LEEP and NCE for a model with its source head), plus the candidate's parameters, its forward FLOPs on one sample (counted by
torch.utils.flop_counter) and the samples/s measured while extracting. `layer` picks features of
another depth: timm's `forward_intermediates` block index (global-average pooled) or a transformers
hidden-state index (mean pooled over the attention mask), e.g. -1 for the last block.
`run_rank` (`hf-transfer rank`) scores every candidate (each `--models` entry at its head's input, and at
each `--layers` depth) and ranks them; `--validate` fine-tunes every candidate at its head's input with one
budget (full fine-tuning, `--epochs`, `--lr`, `--batch-size`) on the same train split (less the validation
set carved from it to pick the epoch) and tests it on the test split, to check the ranking. Layer candidates
are scored only (a truncated network has no fine-tuning recipe here). reports/rank_report.py writes the report.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import run_folder
from .errors import UserError
from .transferability import h_score, leep, logme, nce

RANDOM_PREFIX = "random:"  # "random:NAME": the architecture of NAME with random weights (the from-scratch control)




# -- running a candidate -------------------------------------------------------------------------

def _source_label_names(name: str) -> list[str] | None:
    """The classes of the checkpoint's own head, read from a local folder's config.json (timm's
    label_names / num_classes, transformers' id2label); None when unknown (a Hub id)."""
    from .models import resolve

    resolved = resolve(name)
    config = resolved.config
    return resolved.adapter.head_classes(config) if config is not None else None


def load_candidate(name: str, modality: str, label_names: list[str]):
    """(model, has_source_head): the backbone with its own head when it has one (for LEEP / NCE), else with a
    new head for `label_names` (features only). `random:NAME` builds NAME's architecture untrained."""
    from .config import ModelConfig
    from .models import load_backbone

    pretrained = not name.startswith(RANDOM_PREFIX)
    ref = name.removeprefix(RANDOM_PREFIX)
    cfg = ModelConfig(name=ref, pretrained=pretrained)
    source = _source_label_names(ref) if pretrained else None
    if source:
        model = load_backbone(cfg, modality, source)
        if not model.head_is_new:
            return model, True
    return load_backbone(cfg, modality, label_names), False


def check_layer(model, layer: int | None) -> None:
    """--layers: an index the backbone has (timm feature blocks, or transformers hidden states: embeddings + layers)."""
    if layer is None:
        return
    count, what = model.adapter.layer_count(model)
    if not -count <= layer < count:
        raise UserError(f"--layers: {layer} is out of range for {model.source}, which has {count} {what}: "
                        f"0 to {count - 1}, or -1 to -{count} from the end")


@torch.no_grad()
def extract(model, loader, on_device, layer: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(features, source logits (None for a layer), labels, samples/s) of the frozen model over a loader."""
    from accelerate.utils import send_to_device
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    feats, logits, labels, seconds = [], [], [], 0.0
    for batch in tqdm(loader, desc=f"features of {model.source}", leave=False):
        batch = on_device(send_to_device(batch, device), False)
        tick = time.perf_counter()
        if layer is None:
            out, f = model(batch, return_features=True)
            logits.append(out.float().cpu())
        else:  # the forward pass up to that block only (no source predictions from it)
            f = model.adapter.layer_features(model, batch, layer)
        seconds += time.perf_counter() - tick
        feats.append(f.float().cpu())
        labels.append(batch["labels"].cpu())
    n = sum(len(x) for x in labels)
    source_logits = torch.cat(logits).numpy() if logits else None
    return torch.cat(feats).numpy(), source_logits, torch.cat(labels).numpy(), n / max(seconds, 1e-9)


def backbone_parameters(model) -> int:
    """Parameters without the head (which differs between a source head and a new one)."""
    head = {id(p) for p in model.head.parameters()}
    return sum(p.numel() for p in model.net.parameters() if id(p) not in head)


def count_flops(model, loader, on_device) -> int:
    """Forward FLOPs for one sample (torch.utils.flop_counter: matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = next(iter(loader))
    device = next(model.parameters()).device
    one = on_device({k: v[:1].to(device) if torch.is_tensor(v) else v for k, v in batch.items()}, False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(one)
    return int(counter.get_total_flops())


def data_config(dataset: str, max_samples: int, image_size: int | None = None, max_length: int = 128):
    """The labelled samples a candidate is scored on: up to `max_samples` of the train split (stratified)."""
    from .config import DataConfig

    return DataConfig(dataset=dataset, max_train_samples=max_samples, validation_split=None, eval_splits=[],
                      image_size=image_size, max_length=max_length)


def score(model: str, dataset: str, max_samples: int = 1000, layer: int | None = None, image_size: int | None = None,
          max_length: int = 128, batch_size: int = 32, seed: int = 0, splits=None) -> dict:
    """Transferability scores of backbone `model` on the labelled train samples of `dataset`."""
    from accelerate.utils import set_seed

    from .data.loaders import build_loaders
    from .data.splits import build_splits

    set_seed(seed)
    if splits is None:
        splits = build_splits(data_config(dataset, max_samples, image_size, max_length), "auto", seed)
    check_samples(splits, dataset)
    net, has_head = load_candidate(model, splits.modality, splits.label_names)
    check_layer(net, layer)
    net.eval()
    only_train = dataclasses.replace(splits, evals={"train": splits.train}, validation=None)
    loaders = build_loaders(only_train, net, data_config(dataset, max_samples, image_size, max_length), batch_size,
                            batch_size, seed, augment={})
    tick = time.perf_counter()
    features, logits, labels, per_second = extract(net, loaders.evals["train"], loaders.on_device, layer)
    result = {"model": model, "layer": layer, "dataset": dataset, "samples": int(len(labels)),
              "classes": len(splits.label_names), "feature_dim": int(features.shape[1]),
              "source_head": has_head, "logme": logme(features, labels), "h_score": h_score(features, labels),
              "leep": None, "nce": None, "parameters": backbone_parameters(net),
              "flops": count_flops(net, loaders.evals["train"], loaders.on_device), "samples_per_second": per_second}
    if has_head and layer is None:  # LEEP and NCE score the source classifier, which reads the last features only
        probs = torch.softmax(torch.from_numpy(logits), -1).numpy()
        result.update(leep=leep(probs, labels, len(splits.label_names)), nce=nce(logits.argmax(1), labels))
    result["seconds"] = time.perf_counter() - tick
    return result


def check_samples(splits, dataset: str) -> None:
    """One class per row (LogME, LEEP, NCE and the H-score are written for it), and enough labelled samples to score:
    two a class and ten in all (the covariances and evidence need them)."""
    if not splits.task.single_class:
        raise UserError(f"--dataset: {dataset} is {splits.task.name} data; the transferability scores of rank are "
                        "written for one class per row (single-label classification)")
    n, classes = len(splits.train), len(splits.label_names)
    if n < max(10, 2 * classes):
        raise UserError(f"--dataset: {dataset} has {n} labelled samples for {classes} classes; transferability scores "
                        f"need at least {max(10, 2 * classes)} (two a class, ten in all)")


def parse_candidates(models: str, layers: str | None) -> list[tuple[str, int | None]]:
    """`--models A,B --layers -1,3` -> [(A, None), (A, -1), (A, 3), (B, None)...]: every model at its head's
    input, and at each layer asked for."""
    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise UserError("--models: name at least one model")
    try:
        depths = [int(x) for x in layers.split(",") if x.strip()] if layers else []
    except ValueError as e:
        raise UserError(f"--layers: {layers!r} is not a comma-separated list of block indexes ({e})") from e
    return [(name, depth) for name in names for depth in [None, *depths]]


def finetune_config(row: dict, out: Path, options: dict, index: int = 1):
    """The validation run of a candidate: full fine-tuning with the same budget for every candidate."""
    from .config import apply_overrides, from_dict

    name = row["model"]
    short = Path(name.removeprefix(RANDOM_PREFIX)).name.replace(":", "_")
    slug = f"{index:02d}_" + (f"random_{short}" if name.startswith(RANDOM_PREFIX) else short)
    data = {"dataset": row["dataset"], "max_train_samples": options["max_samples"], "eval_splits": ["test"],
            **{k: v for k, v in (options.get("columns") or {}).items() if v is not None},
            "max_eval_samples": options["max_eval_samples"], "max_length": options["max_length"]}
    if options["image_size"]:
        data["image_size"] = options["image_size"]
    cfg = from_dict({
        "name": slug, "output_dir": str(out / "finetune" / slug),
        "model": {"name": name.removeprefix(RANDOM_PREFIX), "pretrained": not name.startswith(RANDOM_PREFIX)},
        "data": data, "train": {"epochs": options["epochs"], "lr": options["lr"], "batch_size": options["batch_size"],
                                "seed": options["seed"]}})
    return apply_overrides(cfg, options.get("overrides") or [])


def run_rank(models: str, dataset: str, out: str, layers: str | None = None, validate: bool = False,
             **options) -> dict:
    """Score, rank and (with `validate`) fine-tune every candidate; writes OUT/rank.{md,html,json}."""
    from .reports.rank_report import markdown
    from .reports.run_report import write_html

    out_dir = Path(out)
    parsed = parse_candidates(models, layers)
    run_folder.refuse_inputs(out_dir, "-o", [*(("the candidate model", n.removeprefix(RANDOM_PREFIX)) for n, _ in parsed),
                                             ("the data set", dataset)], sealed=("the candidate model", "the data set"))
    if out_dir.is_dir() and (out_dir / "rank.json").exists() and not options.get("overwrite"):
        raise UserError(f"-o: {str(out_dir)!r} already holds a ranking; pass --overwrite or choose another folder")
    splits = rank_splits(dataset, options)
    candidates, skipped = usable_candidates(parsed, splits.modality, dataset)
    tick = time.perf_counter()
    rows = []
    for i, (name, layer) in enumerate(candidates, 1):
        print(f"[{i}/{len(candidates)}] scoring {name}" + ("" if layer is None else f" @ layer {layer}"), file=sys.stderr)
        rows.append(score(name, dataset, options["max_samples"], layer, options["image_size"],
                               options["max_length"], options["batch_size"], options["seed"], splits=splits))
    rows.sort(key=lambda r: -r["logme"])
    result = {"dataset": dataset, "candidates": rows, "rank_seconds": time.perf_counter() - tick, "validation": None,
              "skipped": skipped}
    out_dir.mkdir(parents=True, exist_ok=True)
    if validate:
        result["validation"] = validate_rows(rows, out_dir, options)
    (out_dir / "rank.json").write_text(run_folder.strict_json(result))
    md = out_dir / "rank.md"
    md.write_text("\n".join(markdown(result)))
    write_html(md, out_dir / "rank.html")
    return result


COLUMNS = ("label_column", "text_column", "image_column")


def _with_columns(data, options: dict):
    """`data` with the columns named by --label-column / --text-column / --image-column, or by --set data.X_column."""
    from .config import Config, apply_overrides

    given = [o for o in options.get("overrides") or [] if o.split("=", 1)[0].strip() in (f"data.{c}" for c in COLUMNS)]
    data = apply_overrides(Config(data=data), given).data if given else data
    flags = {k: v for k, v in (options.get("columns") or {}).items() if v is not None}
    return dataclasses.replace(data, **flags)


def rank_splits(dataset: str, options: dict):
    """The labelled samples every candidate is scored on, loaded once."""
    from accelerate.utils import set_seed

    from .data.splits import build_splits

    set_seed(options["seed"])
    config = _with_columns(data_config(dataset, options["max_samples"], options["image_size"], options["max_length"]),
                           options)
    splits = build_splits(config, "auto", options["seed"])
    check_samples(splits, dataset)
    return splits


def usable_candidates(candidates: list, modality: str, dataset: str) -> tuple[list, list]:
    """(candidates to score, [{model, reason}] skipped): before any is loaded, a model of the other modality (a
    timm model on text) is set aside with a warning, so that it neither costs the time of scoring the others
    nor loses their scores; a bad name or path is refused here, at once (one line)."""
    from .models import modality as modality_of

    kinds = {name: modality_of(name) for name in dict.fromkeys(name for name, _ in candidates)}
    wrong = {name: f"a{'n' if kind == 'image' else ''} {kind} model, and {dataset} is {modality} data"
             for name, kind in kinds.items() if kind is not None and kind != modality}
    for name, reason in wrong.items():
        print(f"hf-transfer: warning: not scoring {name}: {reason}", file=sys.stderr)
    if len(wrong) == len(kinds):
        raise UserError(f"--models: no candidate reads {modality} data ({'; '.join(f'{n}: {r}' for n, r in wrong.items())})")
    return [c for c in candidates if c[0] not in wrong], [{"model": n, "reason": r} for n, r in wrong.items()]


def validate_rows(rows: list[dict], out_dir: Path, options: dict) -> dict:
    """Fine-tune every head-input candidate with one budget; record its test accuracy in its row."""
    from .reports.rank_report import correlations, plot
    from .runs.sequence import run_configs

    tick = time.perf_counter()
    whole = [r for r in rows if r["layer"] is None]
    configs = [finetune_config(r, out_dir, options, i) for i, r in enumerate(whole, 1)]
    for row, metrics in zip(whole, run_configs(configs, None, overwrite=options.get("overwrite", False))):
        row["finetuned_accuracy"] = metrics["final"]["test"]["accuracy"]
    plot(rows, out_dir / "rank_validation.png")
    budget = f"full fine-tuning, {options['epochs']} epochs, lr {options['lr']:g}, batch {options['batch_size']}"
    return {"budget": budget, "seconds": time.perf_counter() - tick, "correlations": correlations(rows)}

