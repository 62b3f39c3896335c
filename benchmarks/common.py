"""What the benchmarks share: the environment line, result output, and the Hugging Face
example-script way of feeding a model (the baseline users would otherwise write)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch


def environment(precision: str = "no") -> dict:
    cuda = torch.cuda.is_available()
    return {"device": torch.cuda.get_device_name(0) if cuda else (platform.processor() or "cpu"),
            "device_type": "cuda" if cuda else "cpu", "cpu_cores": os.cpu_count(), "torch": torch.__version__,
            "precision": precision, "threads": torch.get_num_threads()}


def emit(row: dict, results: str | None = None) -> None:
    """One JSON line on stdout (and appended to `results`, e.g. benchmarks/results.jsonl); under `make bench` it
    carries the run's id (BENCH_RUN), which speed_table.py groups by."""
    if os.environ.get("BENCH_RUN"):
        row = {"bench_run": os.environ["BENCH_RUN"], **row}
    line = json.dumps(row)
    print(line, flush=True)
    if results:
        with open(results, "a") as f:
            f.write(line + "\n")


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """A short aligned table: columns are (key, header, format); text left, numbers right."""
    cells = [[format(r[k], f) if r.get(k) is not None else "" for k, _, f in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h, _) in enumerate(columns)]
    left = [isinstance(rows[0].get(k), str) if rows else False for k, _, _ in columns]
    print()
    for line in [[h for _, h, _ in columns]] + cells:
        print("  ".join(c.ljust(w) if lf else c.rjust(w) for c, w, lf in zip(line, widths, left)).rstrip())
    print()


def median_range(values: list[float]) -> dict:
    """Median and range of repeated measurements: what a ratio is reported with (a second run's median is expected
    to fall inside the first run's range)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "low": None, "high": None, "n": 0}
    return {"median": statistics.median(values), "low": min(values), "high": max(values), "n": len(values)}


def shown(s: dict, fmt: str = ".3f") -> str:
    """A spread as `median [low, high]`."""
    if s["median"] is None:
        return "n/a"
    return f"{s['median']:{fmt}} [{s['low']:{fmt}}, {s['high']:{fmt}}]"


@contextlib.contextmanager
def after_each_step(callback):
    """Instrument hf_transfer's own loop: `callback(loop, seconds)` after every optimizer step, where `seconds` is the
    loop's training clock so far (setup and evaluation not counted). The time the callback takes (an evaluation for
    a curve) is taken off that clock; a callback that returns True ends the run there (as train.stop_after_steps
    does: a checkpoint, no model). The bare loops measure at the same point (after the scheduler's step)."""
    from hf_transfer.runs import loop_run

    original = loop_run._after_step

    def wrapped(loop, epoch, bar, signalled):
        end = original(loop, epoch, bar, signalled)
        tick = time.perf_counter()
        stop = callback(loop, loop.train_seconds + tick - loop.tick)
        loop.tick += time.perf_counter() - tick  # off the clock
        if stop:
            loop.stopped = True
        return end or bool(stop)

    loop_run._after_step = wrapped
    try:
        yield
    finally:
        loop_run._after_step = original


def steady_rate(clock: list[float]) -> float:
    """Steps per second after the first step, from the training clock after each step: the first step's warm-up
    (kernel and allocator set-up, a DataLoader's workers starting) is reported apart, as `clock[0]`."""
    return (len(clock) - 1) / (clock[-1] - clock[0])


def hf_image_loader(ds, data_config: dict, batch_size: int, train: bool, workers: int,
                    scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), hflip: float = 0.5):
    """The run_image_classification.py way: `set_transform` with torchvision transforms, per image, on workers."""
    from torchvision import transforms as T

    size = data_config["input_size"][-1]
    norm = T.Normalize(data_config["mean"], data_config["std"])
    if train:
        tf = T.Compose([T.RandomResizedCrop(size, scale=tuple(scale), ratio=tuple(ratio)), T.RandomHorizontalFlip(hflip),
                        T.ToTensor(), norm])
    else:
        tf = T.Compose([T.Resize(int(size / data_config.get("crop_pct", 0.875))), T.CenterCrop(size), T.ToTensor(), norm])
    column = "image" if "image" in ds.column_names else "img"

    def apply(batch):
        return {"pixel_values": [tf(img.convert("RGB")) for img in batch[column]], "labels": batch["label"]}

    ds = ds.with_transform(apply)

    def collate(samples):
        return {"pixel_values": torch.stack([s["pixel_values"] for s in samples]),
                "labels": torch.tensor([s["labels"] for s in samples])}

    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=train, collate_fn=collate,
                                       num_workers=workers, pin_memory=torch.cuda.is_available(),
                                       persistent_workers=workers > 0, drop_last=train)


def hf_workers() -> int:
    """CPU workers for the baseline: all cores but one (at least one)."""
    return max(1, (os.cpu_count() or 2) - 1)


def bare_setup(cfg):
    """(accelerator, splits, model) for a bare loop: a fresh accelerate state, the same seed, data and model as ours."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import set_seed

    from hf_transfer.data.splits import build_splits
    from hf_transfer.models import load_backbone

    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    accelerator = Accelerator(mixed_precision=cfg.train.mixed_precision)
    set_seed(cfg.train.seed)
    splits = build_splits(cfg.data, cfg.modality, cfg.train.seed)
    return accelerator, splits, load_backbone(cfg.model, splits.modality, splits.label_names)


RESULTS = str(Path(__file__).with_name("results.jsonl"))
