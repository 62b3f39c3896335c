"""Image preprocessing from the backbone's own data config (timm's `create_transform`).

The data config (input size, mean, std, interpolation, crop) comes from the model: timm's
`pretrained_cfg` for timm backbones, the image processor for transformers ones. Training adds
timm's augmentation, tuned by `data.augment` (any keyword of `timm.data.create_transform`).
"""

from __future__ import annotations

import inspect

import torch
from timm.data import create_transform

from ..errors import ConfigError
from ..pixels import to_rgb

_FIXED = {"input_size", "is_training", "mean", "std"}


def resolve_data_config(data_config: dict, image_size: int | None) -> dict:
    """The model's data config with the input size replaced by `image_size` when given."""
    dc = dict(data_config)
    if image_size is not None:
        dc["input_size"] = (3, image_size, image_size)
    return dc


def image_transforms(data_config: dict, augment: dict):
    """(train, eval) transforms: PIL image -> normalized float tensor of the model's input size."""
    allowed = set(inspect.signature(create_transform).parameters) - _FIXED
    for key in augment:
        if key not in allowed:
            raise ConfigError(f"data.augment.{key}: not an option of timm.data.create_transform; "
                              f"options: {', '.join(sorted(allowed))}")
    train_kwargs = {**data_config, **augment}
    for key in ("crop_pct", "crop_mode"):  # eval-time cropping, not used by the train transform
        train_kwargs.pop(key, None)
    try:
        train = create_transform(**train_kwargs, is_training=True)
    except (TypeError, ValueError, AssertionError) as e:
        raise ConfigError(f"data.augment: timm rejected {augment}: {e}") from e
    return train, create_transform(**data_config, is_training=False)


def batch_transform(transform):
    """A `Dataset.with_transform` function: images -> pixel_values, label -> labels."""

    def apply(batch):
        pixels = {"pixel_values": [transform(to_rgb(img)) for img in batch["image"]]}
        return {**pixels, "labels": batch["label"]} if "label" in batch else pixels  # unlabelled target: none

    return apply


def collate_images(samples):
    batch = {"pixel_values": torch.stack([s["pixel_values"] for s in samples])}
    if "labels" in samples[0]:  # unlabelled target batches have none
        batch["labels"] = torch.tensor([s["labels"] for s in samples])
    return batch
