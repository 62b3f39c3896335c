"""train.class_weights, decided once from the training labels and given to each consumer in its form: the
loss's weight tensor (the loop), scikit-learn's class_weight (the fitted baselines), the prior a post-hoc
adjustment starts from. A list of the wrong length is refused by the config (config/rules.py) or, when the number of
classes is known only from the data, here, with the same error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch

IMBALANCED = 1.5  # class_weights 'auto': balanced when the largest class has more than this times the smallest's samples


def resolve_class_weights(setting, labels: list[int], num_classes: int):
    """train.class_weights with 'auto' decided from the training labels: 'balanced' when the classes present are
    imbalanced (largest / smallest count over IMBALANCED), else None; any other setting as it is."""
    import torch

    if setting != "auto":
        return setting
    counts = torch.bincount(torch.as_tensor(list(labels)), minlength=num_classes)
    present = counts[counts > 0]
    return "balanced" if len(present) and present.max() > IMBALANCED * present.min() else None


def class_weight_tensor(setting, labels: list[int], num_classes: int, device=None) -> torch.Tensor | None:
    """train.class_weights as a tensor: None, 'auto' (see resolve_class_weights), 'balanced' (n / (k * count), as
    scikit-learn) or a list."""
    import torch

    setting = resolve_class_weights(setting, labels, num_classes)
    if setting is None:
        return None
    if setting == "balanced":
        counts = torch.bincount(torch.as_tensor(list(labels)), minlength=num_classes).float()
        return (len(labels) / (num_classes * counts.clamp(min=1))).to(device)
    if len(setting) != num_classes:
        raise ConfigError(f"train.class_weights: {len(setting)} weights for {num_classes} classes")
    return torch.tensor(setting, dtype=torch.float, device=device)


def sklearn_class_weight(setting, labels: list[int], num_classes: int):
    """train.class_weights as scikit-learn's `class_weight`: None, 'balanced' or {class: weight}."""
    setting = resolve_class_weights(setting, labels, num_classes)
    if setting is None or setting == "balanced":
        return setting
    if len(setting) != num_classes:
        raise ConfigError(f"train.class_weights: {len(setting)} weights for {num_classes} classes")
    return dict(enumerate(setting))
