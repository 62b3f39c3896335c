"""A new head with hidden layers ("adding new hidden layers"): dropout -> Linear -> GELU, repeated,
then dropout -> Linear to the classes. It replaces the backbone's linear head in place.

Neither timm's nor transformers' config can describe such a head, so the saved model/ folder
carries `hf_transfer_head.json` beside the weights, and `load_backbone` rebuilds it.
"""

from __future__ import annotations

from torch import nn

from .base import Strategy

def mlp_head(in_features: int, hidden: list[int], num_classes: int, dropout: float) -> nn.Sequential:
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Dropout(dropout), nn.Linear(width, h), nn.GELU()]
        width = h
    return nn.Sequential(*layers, nn.Dropout(dropout), nn.Linear(width, num_classes))


class Head(Strategy):
    name = "head"

    def setup(self, model) -> None:
        c = self.cfg.head
        width = model.num_features
        model.set_head(mlp_head(width, c.hidden, len(model.label_names), c.dropout),
                       spec={"hidden": list(c.hidden), "dropout": c.dropout, "mlp_in": width})
