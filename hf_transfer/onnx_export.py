"""`hf-transfer export RUN [-o DIR] [--quantize none|int8]`: a run's model as ONNX, checked against PyTorch.

    hf-transfer export runs/bbc --quantize int8      # -> runs/bbc/onnx/ (model.onnx, tokenizer, export.json)
    hf-transfer predict runs/bbc --backend onnx --input news.csv

The graph is written by torch.onnx's TorchScript exporter (`dynamo=False`): it takes the model's forward as it
runs, our heads and pooling included, with dynamic batch and sequence axes by name and no onnxscript. It ends in
the softmax, so the export answers with the calibrated probabilities the PyTorch model gives (the temperature is
folded into the saved model's last layer). int8 uses onnxruntime's quantization tools: dynamic (int8 weights,
activations quantised per batch) for text models, whose time is in MatMuls; static QDQ for image models (dynamic
quantisation of a CNN's convolutions is slower than fp32 on CPU), calibrated on rows of the run's validation split,
with the STATIC_RECIPES entry (which layers stay fp32) whose labels agree best with fp32 there: never test rows.

The check runs PyTorch, the fp32 graph and the int8 graph on the same prepared rows of the run's own test set
(the first of its eval sets; up to --check-rows): the largest probability difference, label agreement, and
accuracy / macro-F1 side by side. An fp32 graph that differs by more than FP32_TOLERANCE, or an int8 one whose
test accuracy falls more than --max-drop below fp32's, is refused (nothing written) unless --force.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import run_folder
from .errors import UserError
from .exported import folder as export_folder

log = logging.getLogger("hf_transfer")

DEFAULT_OPSET = 18
MAX_DROP = 0.01  # int8 test accuracy may fall this much below fp32's
FP32_TOLERANCE = 1e-3  # largest probability difference between PyTorch and the fp32 graph
CHECK_ROWS = 1000
CALIBRATION_ROWS = 128
# static int8 quantises the layers that hold weights; the rest stays float, above all the shape arithmetic of
# timm's "same" padding (Shape, Sub, Ceil... on sizes), which quantised gives wrong pads and a graph that fails
WEIGHTED_OPS = ["Conv", "MatMul", "Gemm"]


def export(run: str, out: str | Path | None = None, quantize: str = "none", opset: int = DEFAULT_OPSET,
           overwrite: bool = False, force: bool = False, max_drop: float = MAX_DROP, check_rows: int = CHECK_ROWS,
           batch_size: int = 32) -> dict:
    """Export the model of run directory `run` to `out` (default RUN/onnx); the export.json written."""
    from . import predictor

    if quantize not in export_folder.QUANTIZE:
        raise UserError(f"--quantize: {quantize!r} is not one of {', '.join(export_folder.QUANTIZE)}")
    folder, config = predictor.folders(str(run))
    export_folder.refuse_for_torch(folder, "export")
    if config is None:
        raise UserError(f"export: {run!r} has no config.yaml beside its model (a run directory, or a pushed repository, "
                        "has one): the export is checked on the run's own test set")
    out = Path(out) if out is not None else config.parent / export_folder.EXPORT_DIR
    run_folder.refuse_inputs(out, "-o", [("the run", run), ("the model folder", folder), ("the run's config", config)],
                             sealed=("the model folder",))
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UserError(f"-o: {str(out)!r} exists; pass --overwrite to replace it, or choose another folder")
    if (folder / "adapter_config.json").is_file():
        raise UserError(f"export: {str(folder)!r} holds a LoRA adapter alone (strategy.lora.save: adapter), not a model "
                        "to export; train with lora.save: merged (the default), which saves the adapters merged in")
    clf = predictor.load(run, backend="torch")
    if clf.tfidf is not None:
        raise UserError(f"export: {run!r} is the TF-IDF baseline, a scikit-learn model with no network to export; it "
                        "already runs without PyTorch (scikit-learn and numpy)")
    if not clf.task.single_class:
        raise UserError(f"export: {run!r} is a {clf.task.name} model; export writes single-label classifiers only "
                        "(its outputs are class probabilities)")
    image = _image_preprocessing(clf) if clf.modality == "image" else None
    model = clf.model.eval()
    test, choice_rows, test_name = _rows(clf, check_rows)
    with tempfile.TemporaryDirectory(prefix="hf_transfer_export_") as work:
        fp32 = Path(work) / "model.onnx"
        names = _export_graph(model, clf, test, fp32, opset, batch_size)
        graphs, quantization = {"fp32": fp32}, None
        if quantize == "int8":
            with _refused_as("onnxruntime could not quantise the graph to int8 (export without --quantize)", opset):
                graphs["int8"], quantization = _quantize(fp32, Path(work), clf, choice_rows, batch_size, names)
        check = _check(clf, model, graphs, test, batch_size, names)
        check.update(set=test_name, rows=len(test))
        _refuse_if_off(check, quantize, max_drop, force)
        spec = _spec(clf, model, run, config.parent, quantization, opset, image, check, names)
        with run_folder.written_whole(out) as tmp:
            shutil.copy2(graphs["int8" if quantize == "int8" else "fp32"], tmp / export_folder.MODEL_FILE)
            _write_preprocessing(clf, tmp, opset)
            (tmp / export_folder.EXPORT_JSON).write_text(run_folder.strict_json(spec))
    return {**spec, "folder": str(out)}


def _image_preprocessing(clf) -> dict:
    """The evaluation transform of an image model, for export.json; one line for what pixels.eval_pixels lacks."""
    from .data.transforms import resolve_data_config
    from .pixels import INTERPOLATIONS

    dc = resolve_data_config(clf.model.data_config, clf.data.image_size)
    _, h, w = dc["input_size"]
    if h != w or dc.get("crop_mode", "center") not in (None, "center") or dc.get("interpolation") not in INTERPOLATIONS:
        raise UserError(f"export: this image model's evaluation transform (input {h}x{w}, crop mode "
                        f"{dc.get('crop_mode')}, interpolation {dc.get('interpolation')}) cannot be exported: only a "
                        f"square input, centre crop and {', '.join(INTERPOLATIONS)} are")
    return {"pipeline": clf.data.pipeline, "size": int(h), "crop_pct": float(dc.get("crop_pct") or 1.0),
            "interpolation": dc["interpolation"], "mean": [float(v) for v in dc["mean"]],
            "std": [float(v) for v in dc["std"]]}


def _rows(clf, check_rows: int):
    """(the run's test rows (its first eval set; validation when it has none), at most `check_rows`; rows to
    calibrate and choose int8 on: its validation split, else its training rows, at most `check_rows`; the test
    set's name), split as the run split them."""
    from .data.splits import build_splits, subsample

    cfg = clf.config
    splits = build_splits(cfg.data, clf.modality, seed=cfg.train.seed)
    sets = splits.evals or ({"validation": splits.validation} if splits.validation is not None else {})
    if not sets:
        raise UserError("export: the run has no labelled test or validation rows to check the export on")
    name, test = next(iter(sets.items()))
    choice = splits.validation if splits.validation is not None else splits.train
    return (subsample(test, check_rows, cfg.train.seed), subsample(choice, check_rows, cfg.train.seed), name)


def _with_probabilities(model, names: list[str]):
    """A torch module: the model on tensors named `names`, in order -> (probabilities, log-probabilities)."""
    import torch

    class Exported(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            logits = self.model(dict(zip(names, tensors))).float()
            return logits.softmax(-1), logits.log_softmax(-1)

    return Exported().eval()


def _feeds(clf, ds, batch_size: int):
    """(model inputs as numpy by name, labels or None) per batch of `ds`, on the CPU."""
    import torch

    from .predictor import model_batches

    for batch in model_batches(clf, ds, batch_size, torch.device("cpu"), "export check"):
        labels = batch.pop("labels", None)
        yield {k: v.numpy() for k, v in batch.items() if torch.is_tensor(v)}, labels


def _export_graph(model, clf, test, path: Path, opset: int, batch_size: int) -> list[str]:
    """model.onnx from one batch of the test rows; the input names, in order."""
    import warnings

    import torch

    feed, _ = next(_feeds(clf, test.select(range(min(2, len(test)))), batch_size))
    names = list(feed)
    axes = {n: ({0: "batch", 1: "sequence"} if clf.modality == "text" else {0: "batch"}) for n in names}
    axes.update(probabilities={0: "batch"}, log_probabilities={0: "batch"})
    with warnings.catch_warnings(), torch.no_grad(), _refused_as("torch.onnx could not export the model", opset):
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(_with_probabilities(model, names), tuple(torch.from_numpy(feed[n]) for n in names), str(path),
                          input_names=names, output_names=["probabilities", "log_probabilities"], dynamic_axes=axes,
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    return names


@contextmanager
def _refused_as(what: str, opset: int):
    """A library's failure (an operator the opset lacks, a graph the quantiser cannot take) as one line."""
    try:
        yield
    except UserError:
        raise
    except Exception as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"export: {what} at opset {opset} ({type(e).__name__}: {reason}); nothing written") from e


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader over prepared batches."""

    def __init__(self, feeds):
        self.feeds = iter(feeds)

    def get_next(self):
        return next(self.feeds, None)


def _quantize(fp32: Path, work: Path, clf, choice_rows, batch_size: int, names: list[str]) -> tuple[Path, dict]:
    """(the int8 graph, how it was made): dynamic for text; for images static QDQ calibrated on the first
    CALIBRATION_ROWS of `choice_rows` (validation rows), with the STATIC_RECIPES entry whose labels agree best with
    the fp32 graph's on all of `choice_rows` (the first on a tie)."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if clf.modality == "text":
        quantize_dynamic(str(fp32), str(work / "int8.onnx"), weight_type=QuantType.QInt8)
        return work / "int8.onnx", {"method": "dynamic (int8 MatMul weights, activations quantised per batch)"}
    prepared = work / "model.prepared.onnx"
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    feeds = [{n: f[n] for n in names} for f, _ in _feeds(clf, choice_rows, batch_size)]
    calibration = [f for f, _ in zip(feeds, range(max(1, CALIBRATION_ROWS // batch_size)))]
    graph = onnx.load(str(prepared)).graph

    def labels(path):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return np.concatenate([session.run(["log_probabilities"], f)[0].argmax(1) for f in feeds])

    reference, agreement = labels(fp32), {}
    for i, (name, kept_in_fp32) in enumerate(STATIC_RECIPES.items()):
        quantize_static(str(prepared), str(work / f"int8_{i}.onnx"), _CalibrationReader(calibration),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=WEIGHTED_OPS, nodes_to_exclude=kept_in_fp32(graph))
        agreement[name] = float((labels(work / f"int8_{i}.onnx") == reference).mean())
    best = max(range(len(agreement)), key=lambda i: (list(agreement.values())[i], -i))
    return work / f"int8_{best}.onnx", {
        "method": f"static QDQ ({', '.join(WEIGHTED_OPS)}: per-channel int8 weights, uint8 activations; calibrated on "
                  f"the first {min(len(choice_rows), CALIBRATION_ROWS)} choice rows)",
        "recipe": list(agreement)[best],
        "chosen_on": f"labels agreeing with fp32 on {len(choice_rows)} rows of the validation split (training rows when "
                     "the run has none), never test rows",
        "agreement_by_recipe": agreement}


def _weighted_nodes(graph, wanted) -> list[str]:
    return [n.name for n in graph.node if n.op_type in WEIGHTED_OPS and wanted(n)]


def _depthwise_first_and_last(graph) -> list[str]:
    weighted = _weighted_nodes(graph, lambda n: True)
    return _weighted_nodes(graph, lambda n: any(a.name == "group" and a.i > 1 for a in n.attribute)) + \
        weighted[:1] + weighted[-1:]


STATIC_RECIPES = {  # name: the nodes it keeps in fp32
    "every weighted layer": lambda graph: [],
    "depthwise convolutions, the first and the last layer in fp32": _depthwise_first_and_last,
}


def _check(clf, model, graphs: dict, test, batch_size: int, names: list[str]) -> dict:
    """PyTorch and each graph on the same prepared test rows: differences, agreement, accuracy and macro-F1."""
    import onnxruntime
    import torch

    from .metrics import scores_from_log_probabilities

    sessions = {k: onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for k, p in graphs.items()}
    outputs = {k: [] for k in ("pytorch", *graphs)}
    labels = []
    with torch.no_grad():
        for feed, y in _feeds(clf, test, batch_size):
            outputs["pytorch"].append(model({n: torch.from_numpy(feed[n]) for n in names}).float().log_softmax(-1).numpy())
            for k, session in sessions.items():
                outputs[k].append(session.run(["log_probabilities"], {n: feed[n] for n in names})[0])
            labels.extend(y.tolist())
    log_p = {k: np.concatenate(v) for k, v in outputs.items()}
    reference = np.exp(log_p["pytorch"])
    check = {"pytorch": _scores(scores_from_log_probabilities(log_p["pytorch"], labels, clf.label_names))}
    for k in graphs:
        check[k] = {"max_abs_diff": float(np.abs(np.exp(log_p[k]) - reference).max()),
                    "label_agreement": float((log_p[k].argmax(1) == reference.argmax(1)).mean()),
                    **_scores(scores_from_log_probabilities(log_p[k], labels, clf.label_names))}
    return check


def _scores(scores: dict) -> dict:
    return {"accuracy": scores["accuracy"], "macro_f1": scores["f1_macro"]}


def _refuse_if_off(check: dict, quantize: str, max_drop: float, force: bool) -> None:
    fp32 = check["fp32"]
    problems = []
    if fp32["max_abs_diff"] > FP32_TOLERANCE:
        problems.append(f"the fp32 graph's probabilities differ from PyTorch's by up to {fp32['max_abs_diff']:.2g} "
                        f"(more than {FP32_TOLERANCE:g})")
    if quantize == "int8" and fp32["accuracy"] - check["int8"]["accuracy"] > max_drop:
        problems.append(f"int8 test accuracy {check['int8']['accuracy']:.4f} is more than --max-drop {max_drop:g} "
                        f"below fp32's {fp32['accuracy']:.4f}")
    if problems and not force:
        raise UserError(f"export: {'; '.join(problems)} on {check['rows']} rows of {check['set']}; nothing written "
                        "(--force writes it anyway)")
    for p in problems:
        log.warning("export --force: %s", p)


def _spec(clf, model, run, run_dir: Path, quantization: dict | None, opset: int, image: dict | None, check: dict,
          names: list[str]) -> dict:
    import onnx
    import onnxruntime
    import torch

    from .models import count_parameters

    preprocessing = image if image is not None else {"max_length": int(clf.data.max_length)}
    return {"format": export_folder.FORMAT, "modality": clf.modality, "label_names": clf.label_names, "library": clf.library,
            "source_model": model.source, "exported_from": str(run), "inputs": names,
            "outputs": ["probabilities", "log_probabilities"], "quantize": "none" if quantization is None else "int8",
            "quantization": quantization,
            "opset": opset, "preprocessing": preprocessing, "parameters": count_parameters(model)[1],
            "temperature": _temperature(run_dir),
            "check": check, "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                                         "onnxruntime": onnxruntime.__version__}}


def _temperature(run_dir: Path) -> dict:
    """The run's fitted temperature (its metrics.json), folded into the saved model's last layer and so into the
    graph; None when the run's folder has no readable metrics.json (a model folder copied without it)."""
    import json

    try:
        value = (json.loads((run_dir / run_folder.METRICS).read_text()).get("calibration") or {}).get("temperature")
    except (OSError, ValueError, AttributeError):
        value = None
    return {"value": value, "folded": "into the saved model's last layer: the graph's probabilities are calibrated"}


def _write_preprocessing(clf, tmp: Path, opset: int) -> None:
    """The tokenizer files (text), or preprocess.onnx, the tensor pipeline's evaluation crop (images)."""
    if clf.modality == "text":
        clf.model.processor.save_pretrained(str(tmp))
        return
    import warnings

    import torch

    from .data.tensor_images import DeviceTransform, EvalCrop
    from .data.transforms import resolve_data_config

    crop = EvalCrop(DeviceTransform(resolve_data_config(clf.model.data_config, clf.data.image_size), {}, 0)).eval()
    with warnings.catch_warnings(), torch.no_grad(), _refused_as("torch.onnx could not export the image crop", opset):
        warnings.simplefilter("ignore")
        torch.onnx.export(crop, (torch.zeros(2, 3, 8, 8, dtype=torch.uint8),), str(tmp / export_folder.PREPROCESS_FILE),
                          input_names=["pixels"], output_names=["pixel_values"], opset_version=opset, dynamo=False,
                          dynamic_axes={"pixels": {0: "batch", 2: "height", 3: "width"}, "pixel_values": {0: "batch"}})
