"""New heads with hidden layers, replacing the backbone's linear head in place:

* strategy `head` ("adding new hidden layers"): dropout -> Linear -> GELU, repeated, then
  dropout -> Linear to the classes;
* `model.bottleneck` (domain adaptation): Linear -> width, BatchNorm, ReLU, then Linear to the
  classes, as the Transfer-Learning-Library's DANN/CDAN/MCC examples; the adaptation methods'
  features are the bottleneck's output (`TransferModel.features_module`).

Neither timm's nor transformers' config can describe such a head, so a saved timm or image model/ folder
carries `hf_transfer_head.json` beside the weights, and a text model is saved in the `hf_transfer` form
(modeling_hf_transfer.py, where these heads are built); `load_backbone` rebuilds either.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..fields import option
from .base import Strategy
from .registry import register


@dataclass
class HeadConfig:
    hidden: list = option([], "Hidden layer sizes of the new head; empty: a single linear layer.")
    dropout: float = option(0.0, "Dropout before each layer of the head.")

    def rules(self) -> list[tuple[str, bool, str]]:
        return [
            ("dropout", 0 <= self.dropout < 1, "must be in [0, 1)"),
            ("hidden", all(isinstance(h, int) and h >= 1 for h in self.hidden), "must be a list of sizes >= 1"),
        ]


@register("head", config=HeadConfig)
class Head(Strategy):
    builds_head = True


    def setup(self, model) -> None:
        from ..modeling_hf_transfer import mlp_head  # here: that file imports transformers (every config reads this one)

        c = self.cfg
        width = model.num_features
        model.set_head(mlp_head(width, c.hidden, len(model.label_names), c.dropout),
                       spec={"hidden": list(c.hidden), "dropout": c.dropout, "mlp_in": width})


def add_bottleneck(model, width: int, zero_classifier: bool = True) -> None:
    """Put a bottleneck of `width` (random init) between the backbone's features and a new classifier
    (zeros, as model.new_head_init: zeros, or random)."""
    from ..modeling_hf_transfer import bottleneck_head

    model.set_head(bottleneck_head(model.num_features, width, len(model.label_names)),
                   spec={"bottleneck": width, "mlp_in": model.num_features})
    if zero_classifier:
        with torch.no_grad():
            for p in model.head[-1].parameters():
                p.zero_()
