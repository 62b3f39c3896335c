"""Images as numbers, without PyTorch: an 8-bit RGB copy of any PIL image (`to_rgb`), and the evaluation
transform timm builds for a square input (`eval_pixels`: resize the shorter side to size / crop_pct, centre
crop, scale to [0, 1], normalise), computed the way torchvision computes it on a PIL image, so an exported
model fed these pixels sees what the PyTorch model saw."""

from __future__ import annotations

import math

import numpy as np

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def to_rgb(img):
    """An 8-bit RGB copy of a PIL image. High-bit-depth modes are scaled, never clipped (PIL's own
    `convert("RGB")` saturates them: a 16-bit PNG becomes almost all white): 16-bit ('I;16*') by 255 / 65535;
    32-bit integer ('I', how PIL opens many 16-bit PNGs) by 255 / 65535 when its values fit 16 bits and exceed
    8, else by its own range; float ('F') from [0, 1] when it lies there, else by its own range."""
    mode = img.mode
    if mode != "F" and mode != "I" and not mode.startswith("I;16"):
        return img.convert("RGB")
    from PIL import Image

    a = np.asarray(img, dtype=np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if mode.startswith("I;16") or (mode == "I" and lo >= 0 and 255 < hi <= 65535):
        low, top = 0.0, 65535.0
    elif lo >= 0 and hi <= (1.0 if mode == "F" else 255.0):
        low, top = 0.0, 1.0 if mode == "F" else 255.0
    else:
        low, top = lo, max(hi, lo + 1e-12)
    gray = np.clip(np.rint((a - low) * (255.0 / (top - low))), 0, 255).astype(np.uint8)
    return Image.fromarray(gray, mode="L").convert("RGB")


def eval_pixels(img, size: int, crop_pct: float, interpolation: str, mean, std) -> np.ndarray:
    """(3, size, size) float32: timm's eval transform (centre crop mode) of one PIL image, as torchvision's
    Resize (shorter side), CenterCrop, ToTensor and Normalize compute it."""
    from PIL import Image

    img = to_rgb(img)
    short = math.floor(size / crop_pct)
    w, h = img.size
    if w <= h:
        new = (short, int(short * h / w))
    else:
        new = (int(short * w / h), short)
    if new != (w, h):
        img = img.resize(new, getattr(Image.Resampling, interpolation.upper()))
    img = _centre_crop(img, size)
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
    return (x - np.asarray(mean, np.float32)[:, None, None]) / np.asarray(std, np.float32)[:, None, None]


def _centre_crop(img, size: int):
    """torchvision's CenterCrop: padded with black when the image is smaller, offsets rounded half to even."""
    from PIL import Image

    w, h = img.size
    if w < size or h < size:
        padded = Image.new("RGB", (max(w, size), max(h, size)))
        padded.paste(img, ((max(w, size) - w) // 2, (max(h, size) - h) // 2))
        img, (w, h) = padded, padded.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))
