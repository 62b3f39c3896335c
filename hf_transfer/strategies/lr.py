"""Discriminative learning rates / layer-wise LR decay (Howard & Ruder 2018; BEiT, ELECTRA).

The head trains at `train.lr`; the layer group below it at `decay * lr`, the next at
`decay**2 * lr`, down to the stem / embeddings. Groups come from `TransferModel.layer_groups()`.
"""

from __future__ import annotations

from .base import Strategy, default_param_groups


class DiscriminativeLR(Strategy):
    name = "discriminative_lr"

    def param_groups(self, model, train_cfg) -> list[dict]:
        groups = model.layer_groups()
        decay = self.cfg.discriminative_lr.decay
        out = []
        for depth, names in enumerate(reversed(groups)):  # depth 0: the head
            lr = train_cfg.lr * decay ** depth
            out += default_param_groups(model, lr, train_cfg.weight_decay, names, prefix=f"group{len(groups) - 1 - depth}/")
        return out
