"""New heads in place of the backbone's linear one: the layers themselves are built by
modeling_hf_transfer.py (shipped with text models saved in the hf_transfer form), and a saved head is rebuilt
from its spec (hf_transfer_head.json, or the hf_transfer form's config) when the model loads."""

from __future__ import annotations

import torch


def add_mlp_head(model, hidden: list[int], dropout: float) -> None:
    """dropout -> Linear -> GELU per hidden size, then dropout -> Linear to the classes."""
    from .modeling_hf_transfer import mlp_head  # here: that file imports transformers

    width = model.num_features
    model.set_head(mlp_head(width, hidden, len(model.label_names), dropout),
                   spec={"hidden": list(hidden), "dropout": dropout, "mlp_in": width})


def add_bottleneck(model, width: int, zero_classifier: bool = True) -> None:
    """Put a bottleneck of `width` (random init) between the backbone's features and a new classifier
    (zeros, as model.new_head_init: zeros, or random)."""
    from .modeling_hf_transfer import bottleneck_head

    model.set_head(bottleneck_head(model.num_features, width, len(model.label_names)),
                   spec={"bottleneck": width, "mlp_in": model.num_features})
    if zero_classifier:
        zero(model.head[-1])


def zero(module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()


def rebuild(model, spec: dict | None) -> None:
    """The head a saved spec describes, fresh (its weights are loaded after)."""
    if spec:
        from .modeling_hf_transfer import build_head

        spec = {k: v for k, v in spec.items() if k != "head_attr"}
        model.set_head(build_head(spec, spec["mlp_in"], len(model.label_names)), spec)


def divide_logits(model, temperature: float) -> None:
    """Fold a temperature into the model: its logits divided by T wherever it is loaded (fold_affine)."""
    fold_affine(model, divide=temperature)


def fold_affine(model, scale=1.0, shift=0.0, divide=1.0) -> None:
    """Fold `outputs * scale / divide + shift` (scale and shift: scalars, or one per output) into the model's last
    linear layer, so that the saved model gives those outputs wherever it is loaded: a temperature (divide T), a
    regression target's standardisation undone (scale std, shift mean)."""
    last = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        scale = torch.as_tensor(scale, dtype=last.weight.dtype, device=last.weight.device)
        shift = torch.as_tensor(shift, dtype=last.weight.dtype, device=last.weight.device)
        if scale.dim() or float(scale) != 1.0:
            last.weight.mul_(scale.reshape(-1, 1) if scale.dim() else scale)
            if last.bias is not None:
                last.bias.mul_(scale)
        if divide != 1.0:
            last.weight.div_(divide)
            if last.bias is not None:
                last.bias.div_(divide)
        if shift.dim() or float(shift) != 0.0:
            if last.bias is None:
                last.bias = torch.nn.Parameter(torch.zeros(last.out_features, dtype=last.weight.dtype,
                                                           device=last.weight.device))
            last.bias.add_(shift)
