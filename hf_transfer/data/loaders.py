"""DataLoaders for a `Splits`, built so that `--resume` continues exactly.

Two things make a resumed run draw the same batches as an uninterrupted one:

* `EpochSampler` shuffles with a generator seeded by (seed, epoch), never the global RNG, and can
  start part-way into an epoch;
* `TrainSet` runs the random train transform under an RNG seeded by (seed, epoch, index), so a
  sample's augmentation does not depend on what was drawn before it (accelerate prefetches a batch
  ahead, which would otherwise shift the global RNG across a checkpoint). The global RNG is left
  to dropout and the like, and is saved and restored with every checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import ConfigError
from ..pixels import to_rgb
from . import tensor_images, text, transforms
from .splits import Splits


class EpochSampler(Sampler[int]):
    """Yields ``epoch * n + i`` for a permutation of i, seeded by (seed, epoch).

    `begin(epoch, skip)` starts an epoch, `skip` samples in (the samples an interrupted run had
    already seen). Named `begin`, not `set_epoch`, so that accelerate's own counter leaves it alone.

    With `lengths` and `batch_size` (text), the permutation is length-grouped: cut into chunks of
    50 batches, each sorted by length and cut into batches, and the batches shuffled, so a batch
    holds samples of similar length and dynamic padding adds few pad tokens (the idea of
    transformers' LengthGroupedSampler), still a pure function of (seed, epoch).
    """

    GROUP = 50  # batches per length-sorted chunk

    def __init__(self, num_samples: int, seed: int, shard: tuple[int, int] = (0, 1),
                 lengths: list[int] | None = None, batch_size: int | None = None):
        self.num_samples, self.seed, self.epoch, self.skip = num_samples, seed, 0, 0
        self.rank, self.world = shard  # a sampler that shards for itself (the unlabelled target stream)
        self.lengths = torch.tensor(lengths) if lengths is not None else None
        self.batch_size = batch_size

    def begin(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def _order(self, g: torch.Generator) -> torch.Tensor:
        order = torch.randperm(self.num_samples, generator=g)
        if self.lengths is None or not self.batch_size:
            return order
        chunk = self.batch_size * self.GROUP
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start:start + chunk]
            part = part[torch.argsort(self.lengths[part], descending=True, stable=True)]
            batches += list(part.split(self.batch_size))
        return torch.cat([batches[i] for i in torch.randperm(len(batches), generator=g).tolist()])

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = self._order(g)[self.rank::self.world][self.skip:]
        yield from (order + self.epoch * self.num_samples).tolist()

    def __len__(self) -> int:
        return len(range(self.rank, self.num_samples, self.world)) - self.skip


class TargetStream:
    """Unlabelled target batches, cycled independently of the source loader.

    Batch k of the stream is fixed by (seed, k): the stream restarts its sampler at epoch
    k // batches_per_epoch, so a resumed run (which restores k) draws the same target batches.
    Not prepared by accelerate (a second prepared loader would steer gradient accumulation);
    it shards itself across processes and the loop moves its batches to the device.
    """

    def __init__(self, loader: DataLoader, sampler: EpochSampler):
        self.loader, self.sampler = loader, sampler
        self.per_epoch = len(loader)
        if self.per_epoch == 0:
            raise ValueError("the target train set is smaller than one batch")
        self.consumed, self._it = 0, None

    def start(self, consumed: int) -> None:
        self.consumed, self._it = consumed, None

    def next(self) -> dict:
        if self._it is None:
            epoch, within = divmod(self.consumed, self.per_epoch)
            self.sampler.begin(epoch, skip=within * self.loader.batch_size)
            self._it = iter(self.loader)
        try:
            batch = next(self._it)
        except StopIteration:
            self._it = None
            return self.next()
        self.consumed += 1
        return batch


@contextlib.contextmanager
def seeded(seed: int):
    """Run a block under fixed python/numpy/torch-CPU seeds, then restore the global states."""
    py, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)  # the CPU generator only: torch.manual_seed is ~100x slower
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


class TrainSet(Dataset):
    """The training set seen through `EpochSampler` keys, with per-sample seeded augmentation."""

    def __init__(self, ds, seed: int, transform=None):
        self.ds, self.seed, self.transform = ds, seed, transform

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, key: int) -> dict:
        epoch, i = divmod(key, len(self.ds))
        item = self.ds[i]
        if self.transform is None:
            return item
        with seeded(hash((self.seed, epoch, i)) & 0x7FFF_FFFF):
            pixels = self.transform(to_rgb(item["image"]))
        return {"pixel_values": pixels, "labels": item["label"]} if "label" in item else {"pixel_values": pixels}


def default_workers(processes: int = 1) -> int:
    """DataLoader workers when data.num_workers is null: the cores per process, less one for the
    training loop, up to 8, on a GPU machine; 0 on CPU, where workers would take cores from the model."""
    if not torch.cuda.is_available():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(8, cores // max(processes, 1) - 1))


def _identity(batch: dict, train: bool = True) -> dict:
    return batch


@dataclass
class Loaders:
    train: DataLoader
    sampler: EpochSampler
    evals: dict[str, DataLoader]
    target: TargetStream | None = None  # unlabelled target batches (domain adaptation)
    on_device: Callable = _identity  # batch on the device -> model input (the tensor image pipeline's augmentation)
    on_device_target: Callable = _identity
    pipeline: str = "pil"  # images: "tensor" or "pil"; text: "text"


def _tensor_pipeline(splits: Splits, dc: dict, augment: dict, choice: str, with_target: bool) -> dict | None:
    """Decoded uint8 tensors of every image set the run reads (the unlabelled target only `with_target`),
    when the tensor pipeline applies (else None)."""
    if choice == "pil":
        return None
    if not tensor_images.supported(augment):  # `pipeline: tensor` with these is refused by config._check
        return None
    sets = {"train": splits.train, **splits.eval_sets}
    if with_target and splits.target_train is not None:
        sets["target_train"] = splits.target_train
    first = splits.train[0]["image"]
    if choice == "auto" and max(first.size) > max(dc["input_size"][-2:]):
        return None  # downscaling large images: PIL's antialiased resize, on workers
    decoded = {}
    for name, ds in sets.items():
        decoded[name] = tensor_images.decode(ds)
        if decoded[name] is None:
            if choice == "tensor":
                raise ConfigError("data.pipeline: the tensor pipeline needs images of one size that fit in memory; "
                                  "use data.pipeline: pil")
            return None
    return decoded


def build_loaders(splits: Splits, model, data_cfg, batch_size: int, eval_batch_size: int, seed: int,
                  augment: dict | None = None, target_shard: tuple[int, int] | None = None) -> Loaders:
    """The train loader and its EpochSampler, the eval loaders, and with `target_shard` (rank,
    processes) the unlabelled target stream (domain adaptation), for an image or text model."""
    augment = data_cfg.augment if augment is None else augment
    train_set = splits.task.model_labels(splits.train)  # labels as the loss reads them (multi_label: 0/1 per label)
    eval_sets = {k: splits.task.model_labels(v) for k, v in splits.eval_sets.items()}
    prepare = prepare_target = _identity
    pipeline = "text"
    if splits.modality == "image":
        dc = transforms.resolve_data_config(model.data_config, data_cfg.image_size)
        train_tf, eval_tf = transforms.image_transforms(dc, augment)  # also checks the augment options
        decoded = _tensor_pipeline(splits, dc, augment, data_cfg.pipeline, with_target=target_shard is not None)
        if decoded is not None:
            pipeline = "tensor"
            labels = lambda ds: ds["label"] if "label" in ds.column_names else None  # noqa: E731
            make_train = lambda ds, s: tensor_images.TensorImageSet(  # noqa: E731
                decoded["target_train" if ds is splits.target_train else "train"], labels(ds))
            evals = {k: tensor_images.TensorImageSet(decoded[k], labels(v)) for k, v in eval_sets.items()}
            collate = tensor_images.collate
            source_tf = tensor_images.DeviceTransform(dc, augment, seed)
            target_tf = tensor_images.DeviceTransform(dc, augment, seed + 1)
            prepare, prepare_target = source_tf, target_tf
        else:
            pipeline = "pil"
            make_train = lambda ds, s: TrainSet(ds, s, train_tf)  # noqa: E731
            evals = {k: v.with_transform(transforms.batch_transform(eval_tf)) for k, v in eval_sets.items()}
            collate = transforms.collate_images
    else:
        make_train = lambda ds, s: TrainSet(text.tokenize(ds, model.processor, data_cfg.max_length), s)  # noqa: E731
        evals = {k: text.tokenize(v, model.processor, data_cfg.max_length) for k, v in eval_sets.items()}
        collate = text.collator(model.processor, data_cfg.max_length if data_cfg.pad_to_max_length else None)
    train_ds = make_train(train_set, seed)
    grouped = splits.modality == "text" and data_cfg.group_by_length and not data_cfg.pad_to_max_length
    sampler = EpochSampler(len(train_ds), seed, lengths=[len(x) for x in train_ds.ds["input_ids"]] if grouped else None,
                           batch_size=batch_size)  # accelerate hands out whole batches to processes

    workers = data_cfg.num_workers if data_cfg.num_workers is not None else \
        0 if pipeline == "tensor" else default_workers(target_shard[1] if target_shard else int(os.environ.get("WORLD_SIZE", "1")))

    def loader(ds, **kw):  # own generator: creating an iterator never touches the global RNG
        return DataLoader(ds, collate_fn=collate, num_workers=workers, persistent_workers=workers > 0,
                          prefetch_factor=4 if workers else None, pin_memory=torch.cuda.is_available(),
                          generator=torch.Generator().manual_seed(seed), **kw)

    # drop_last keeps a 1-sample batch away from BatchNorm; never drop when the set is smaller than a batch
    train = loader(train_ds, batch_size=batch_size, sampler=sampler, drop_last=len(train_ds) > batch_size)
    stream = None
    if target_shard is not None and splits.target_train is not None:
        target_ds = make_train(splits.target_train, seed + 1)  # its own augmentation draws
        target_sampler = EpochSampler(len(target_ds), seed + 1, shard=target_shard)
        per_process = len(target_sampler)
        stream = TargetStream(loader(target_ds, batch_size=batch_size, sampler=target_sampler,
                                     drop_last=per_process > batch_size), target_sampler)
    evals = {k: loader(v, batch_size=eval_batch_size, shuffle=False) for k, v in evals.items()}
    return Loaders(train, sampler, evals, stream, prepare, prepare_target, pipeline)


def join_batches(source: dict, target: dict, pad_id: int = 0, padding_side: str = "right") -> dict:
    """The source batch (labels left out) followed by the target batch, for one forward pass over both;
    token tensors of different lengths are padded to the longer one."""
    joined = {}
    for key, t in target.items():
        s = source[key]
        if s.dim() == 2 and s.shape[1] != t.shape[1]:
            width = max(s.shape[1], t.shape[1])
            value = pad_id if key == "input_ids" else 0

            def pad(x):
                extra = width - x.shape[1]
                return torch.nn.functional.pad(x, (extra, 0) if padding_side == "left" else (0, extra), value=value)

            s, t = pad(s), pad(t)
        joined[key] = torch.cat([s, t])
    return joined
