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
    """Fold a temperature into the model: its last linear layer (the one that gives the logits) divided by T,
    so that the model's logits are the calibrated logits / T wherever it is loaded."""
    last = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.div_(temperature)
        if last.bias is not None:
            last.bias.div_(temperature)
