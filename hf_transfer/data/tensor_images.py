"""The tensor image pipeline: decode once, keep uint8 tensors, augment whole batches on the device.

Small-image datasets (CIFAR, MNIST, digits: all images one size) are decoded once into a uint8
tensor (N, 3, H, W): a batch is a gather of rows, sent to the device as uint8 (4x fewer bytes
than float), and there, for the whole batch at once, cropped, resized, flipped, colour-jittered
and normalised: colour and normalisation on the small images (per-pixel affine maps commute with
interpolation), then crop + resize + flip in one `grid_sample` at the output size. On a GPU this
replaces per-image PIL decoding and resizing on CPU workers, the bottleneck when 32 px images
are brought to 224 px; on CPU it still saves the per-image Python work.

It follows the train transform timm would build from the same data config: random resized crop
(`scale`, `ratio`), horizontal flip (`hflip`), colour jitter (`color_jitter`, brightness /
contrast / saturation), and for evaluation the centre crop of `crop_pct`. Options it does not
implement (auto_augment, random erasing...) make `data.pipeline: auto` choose the PIL pipeline.
The random parameters of a batch come from a CPU generator seeded by (seed, the batch's first
sample key), so a resumed run augments exactly as an uninterrupted one, on any device. On a GPU
the transform never makes the host wait for the device: the key travels as a Python int, the
per-image parameters go over in one non-blocking copy from pinned memory, and the constants
live on the device, so the host can queue the next steps while the GPU works.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..pixels import to_rgb

SUPPORTED = {"scale", "ratio", "hflip", "color_jitter", "interpolation"}
MAX_BYTES = 4 * 2**30


def supported(augment: dict) -> bool:
    """Whether the tensor pipeline implements these `data.augment` options."""
    return set(augment) <= SUPPORTED and not isinstance(augment.get("color_jitter"), (list, tuple))


def decode(ds, max_bytes: int = MAX_BYTES) -> torch.Tensor | None:
    """All images of `ds` as one uint8 (N, 3, H, W) tensor, or None if their sizes differ or it is too big."""
    if len(ds) == 0:
        return None
    first = ds[0]["image"]
    if len(ds) * 3 * first.width * first.height > max_bytes:
        return None
    out = torch.empty(len(ds), 3, first.height, first.width, dtype=torch.uint8)
    for i, row in enumerate(ds):
        img = row["image"]
        if img.size != first.size:
            return None
        out[i] = torch.from_numpy(np.array(to_rgb(img))).permute(2, 0, 1)
    return out


class TensorImageSet(torch.utils.data.Dataset):
    """Rows of a decoded image tensor; keys are EpochSampler keys (epoch * n + i) or plain indices."""

    def __init__(self, images: torch.Tensor, labels: list[int] | None):
        self.images = images
        self.labels = torch.tensor(labels) if labels is not None else None

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, keys: list[int]) -> dict:  # the DataLoader fetches a whole batch at once
        rows = torch.tensor(keys) % len(self.images)
        # the augmentation seed as a Python int: a tensor would be sent to the GPU, and reading it back
        # there would make the host wait for the device every step
        batch = {"pixel_uint8": self.images[rows], "seed_key": int(keys[0])}
        if self.labels is not None:
            batch["labels"] = self.labels[rows]
        return batch

    def __getitem__(self, key: int) -> dict:
        return self.__getitems__([key])


def collate(batch: dict) -> dict:
    return batch  # __getitems__ already made the batch


def crop_grid(box: torch.Tensor, flip: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The sampling grid of `F.affine_grid` (align_corners=False) for crop boxes (centre x, centre y,
    width, height) and horizontal flips (-1 or 1), shape (n, H, W, 2), on the boxes' device.

    A crop, resize and flip has no rotation, so x depends only on the column and y only on the
    row: two small outer products instead of affine_grid's batched matmul over every pixel (which
    was 42% of the pipeline's time on CPU).
    """
    h, w = size
    base_x = (torch.arange(w, dtype=torch.float32, device=box.device) * 2 + 1) / w - 1  # pixel centres in [-1, 1]
    base_y = (torch.arange(h, dtype=torch.float32, device=box.device) * 2 + 1) / h - 1
    gx = (box[:, 2] * flip)[:, None] * base_x + box[:, 0:1]  # (n, W)
    gy = box[:, 3:4] * base_y + box[:, 1:2]  # (n, H)
    n = len(box)
    return torch.stack((gx[:, None, :].expand(n, h, w), gy[:, :, None].expand(n, h, w)), -1)


class DeviceTransform:
    """uint8 batch on the device -> normalised float `pixel_values` of the model's input size."""

    def __init__(self, data_config: dict, augment: dict, seed: int):
        self.size = data_config["input_size"][-2:]
        self.mean = torch.tensor(data_config["mean"]).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(data_config["std"]).view(1, 3, 1, 1) * 255
        self.crop_pct = data_config.get("crop_pct", 0.875) or 1.0
        mode = augment.get("interpolation", data_config.get("interpolation", "bilinear"))
        self.mode = "bicubic" if mode == "bicubic" else "bilinear"
        self.scale = tuple(augment.get("scale", (0.08, 1.0)))
        self.ratio = tuple(augment.get("ratio", (3 / 4, 4 / 3)))
        self.hflip = float(augment.get("hflip", 0.5))
        self.jitter = float(augment.get("color_jitter", 0.4) or 0.0)
        self.seed = seed
        self._norm = {}  # device -> (mean, std) there, copied once

    def _boxes(self, n: int, g: torch.Generator) -> torch.Tensor:
        """Random resized crop boxes (centre x, centre y, width, height) in [-1, 1] image coordinates."""
        area = torch.empty(n).uniform_(*self.scale, generator=g)
        log_r = torch.empty(n).uniform_(math.log(self.ratio[0]), math.log(self.ratio[1]), generator=g)
        r = torch.exp(log_r)
        w = torch.sqrt(area * r).clamp(max=1.0)
        h = torch.sqrt(area / r).clamp(max=1.0)
        cx = (torch.rand(n, generator=g) * 2 - 1) * (1 - w)
        cy = (torch.rand(n, generator=g) * 2 - 1) * (1 - h)
        return torch.stack([cx, cy, w, h], 1)

    def __call__(self, batch: dict, train: bool) -> dict:
        if "pixel_uint8" not in batch:
            return batch
        x = batch.pop("pixel_uint8")
        key = batch.pop("seed_key")
        n, device = len(x), x.device
        x = x.float()
        if train:  # drawn on the CPU (the same numbers on any device), sent over in one copy
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + key)
            box = self._boxes(n, g)
            flip = torch.where(torch.rand(n, generator=g) < self.hflip, -1.0, 1.0)
            jitter = torch.empty(n, 3).uniform_(1 - self.jitter, 1 + self.jitter, generator=g)
        else:
            box = torch.tensor([[0.0, 0.0, self.crop_pct, self.crop_pct]]).expand(n, 4)
            flip, jitter = torch.ones(n), torch.ones(n, 3)
        params = _to_device(torch.cat([box, flip[:, None], jitter], 1), device)
        box, flip, jitter = params[:, :4], params[:, 4], params[:, 5:]
        # colour and normalisation first, on the small images: they are per-pixel (and per-image) affine
        # maps, which commute with the crop's interpolation, and cost a fraction at the source size
        if train and self.jitter > 0:
            b, c, s = (jitter[:, i].view(n, 1, 1, 1) for i in range(3))
            x = x * b
            x = (x - x.mean((1, 2, 3), keepdim=True)) * c + x.mean((1, 2, 3), keepdim=True)
            gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
            x = ((x - gray) * s + gray).clamp(0, 255)
        if device not in self._norm:
            self._norm[device] = (self.mean.to(device), self.std.to(device))
        mean, std = self._norm[device]
        x = (x - mean) / std
        grid = crop_grid(box, flip, self.size)
        batch["pixel_values"] = F.grid_sample(x, grid, mode=self.mode, padding_mode="border", align_corners=False)
        return batch


def _to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small CPU tensor on `device`; to a GPU without a host sync (pinned, non-blocking)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


class EvalCrop(torch.nn.Module):
    """`DeviceTransform`'s evaluation path as a module of fixed numbers (uint8 pixels of any size ->
    `pixel_values`), for export: the centre box's sampling grid does not depend on the input's size."""

    def __init__(self, transform: DeviceTransform):
        super().__init__()
        box = torch.tensor([[0.0, 0.0, transform.crop_pct, transform.crop_pct]])
        self.register_buffer("grid", crop_grid(box, torch.ones(1), transform.size))
        self.register_buffer("mean", transform.mean)
        self.register_buffer("std", transform.std)
        self.mode = transform.mode

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels.float() - self.mean) / self.std
        return F.grid_sample(x, self.grid.expand(x.shape[0], -1, -1, -1), mode=self.mode, padding_mode="border",
                             align_corners=False)
