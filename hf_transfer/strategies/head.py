"""New heads with hidden layers, replacing the backbone's linear head in place:

* strategy `head` ("adding new hidden layers"): dropout -> Linear -> GELU, repeated, then
  dropout -> Linear to the classes;
* `model.bottleneck` (domain adaptation): Linear -> width, BatchNorm, ReLU, then Linear to the
  classes, as the Transfer-Learning-Library's DANN/CDAN/MCC examples; the adaptation methods'
  features are the bottleneck's output (`TransferModel.features_module`).

Neither timm's nor transformers' config can describe such a head, so a saved timm or image model/ folder
carries `hf_transfer_head.json` beside the weights, and a text model is saved in the `hf_transfer` form
(models/modeling_hf_transfer.py, where these heads are built); `load_backbone` rebuilds either. The heads
themselves, the bottleneck included, are built in models/heads.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fields import option
from ..models.heads import add_mlp_head
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
        add_mlp_head(model, self.cfg.hidden, self.cfg.dropout)
