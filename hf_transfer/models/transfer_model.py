"""`TransferModel`: a library's classifier (`net`) with a new head, seen the same way whatever the library;
what differs between libraries is asked of its adapter (models/adapter.py)."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from ..errors import UserError
from .adapter import Adapter

HEAD_FILE = "hf_transfer_head.json"  # a rebuilt head, beside a library's weights that cannot describe it


class TransferModel(nn.Module):
    """The classifier and its preprocessing, plus what strategies need: `head`, `features` (the head's input)
    and `layer_groups()` ordered from the input to the head."""

    def __init__(self, net: nn.Module, adapter: Adapter, label_names: list[str], processor=None, data_config=None,
                 source: str = "", modality: str = "image", head_attr: str = "classifier"):
        super().__init__()
        self.net = net
        self.adapter = adapter
        self.modality = modality
        self.label_names = list(label_names)
        self.processor = processor  # transformers tokenizer / image processor; None for timm
        self.data_config = data_config or {}  # timm-style image data config (input_size, mean, std...)
        self.source = source
        self.head_attr = head_attr  # dotted path of the head inside net ("classifier", "fc", "head.fc")
        self.head_spec = None  # set when strategies replace the linear head (hidden layers)
        self.pooling = None  # a pooling.Pooling: text features pooled as a sentence-embedding model (not [CLS])
        self.head_is_new = True  # False when the checkpoint's own head was loaded (same classes)
        self.config_class = None  # the model config's class (config.ModelConfig), for load_like's defaults

    @property
    def library(self) -> str:
        return self.adapter.name

    def set_pooling(self, pooling) -> None:
        """Feed the head the `pooling` of the encoder's token states instead of the model's own pooler,
        which is dropped (it no longer trains, and DDP refuses parameters without gradients)."""
        if not isinstance(self.head, nn.Linear):
            raise UserError(f"model.pooling: the head of {type(self.net).__name__} pools for itself; "
                            "use model.pooling: head")
        self.pooling = pooling
        self.adapter.drop_pooler(self)

    # -- what strategies and the loop use -------------------------------------------------------
    @property
    def head(self) -> nn.Module:
        module = self.net
        for part in self.head_attr.split("."):
            module = getattr(module, part)
        return module

    def set_head(self, module: nn.Module, spec: dict | None = None) -> None:
        """Replace the head (e.g. by an MLP); `spec` is saved so that the model can be rebuilt."""
        *path, last = self.head_attr.split(".")
        parent = self.net
        for part in path:
            parent = getattr(parent, part)
        setattr(parent, last, module)
        self.head_spec = spec

    @property
    def num_features(self) -> int:
        """Width of the backbone's pooled features (the head's input)."""
        first = next(m for m in self.head.modules() if isinstance(m, nn.Linear))
        return first.in_features

    @property
    def features_module(self) -> nn.Module:
        """The module whose input `forward(return_features=True)` returns: the head, or with a
        bottleneck (model.bottleneck) the classifier after it, so that features are the bottleneck's."""
        if self.head_spec and self.head_spec.get("bottleneck"):
            return self.head[-1]
        return self.head

    @property
    def feature_dim(self) -> int:
        """Width of the features domain adaptation aligns (the bottleneck's, or the backbone's)."""
        module = self.features_module
        return module.in_features if isinstance(module, nn.Linear) else self.num_features

    def head_parameter_names(self) -> set[str]:
        head_ids = {id(p) for p in self.head.parameters()}
        return {n for n, p in self.named_parameters() if id(p) in head_ids}

    def forward(self, batch: dict, return_features: bool = False):
        """Logits for a batch dict (pixel_values, or input_ids/attention_mask...); labels are ignored.

        With `return_features`, also the features: the head's input (pooled), or the bottleneck's output.
        """
        caught = []
        hook = self.features_module.register_forward_pre_hook(lambda m, args: caught.append(args[0])) if return_features else None
        try:
            logits = self.adapter.logits(self, batch)
        finally:
            if hook is not None:
                hook.remove()
        if not return_features:
            return logits
        features = caught[0]
        if features.dim() == 3:  # heads that pool for themselves (RoBERTa): take the first token
            features = features[:, 0]
        return logits, features

    def train(self, mode: bool = True):
        """As nn.Module.train, but a BatchNorm whose weights are frozen keeps its running statistics."""
        super().train(mode)
        if mode:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None and not m.weight.requires_grad:
                    m.eval()
        return self

    def layer_groups(self) -> list[list[str]]:
        """Parameter names grouped from the input (stem/embeddings) to the head, the head last."""
        head = self.head_parameter_names()
        names = [n for n, _ in self.named_parameters() if n not in head]
        groups = self.adapter.layer_groups(self, names)
        return [g for g in groups if g] + [sorted(head, key=list(dict(self.named_parameters())).index)]

    # -- saving ---------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, image_size: int | None = None) -> None:
        """The library's own format (timm's Hub format, transformers' `save_pretrained`...), with a rebuilt
        head described beside it when the library's format cannot."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.head_spec is not None and not self.adapter.describes_head:
            (directory / HEAD_FILE).write_text(json.dumps({"head_attr": self.head_attr, **self.head_spec}))
        self.adapter.save(self, directory, image_size)

    def export_fields(self) -> dict:
        """The `hf_transfer` config fields (modeling_hf_transfer.HFTransferConfig) of this text model."""
        return {"encoder_prefix": self.net.base_model_prefix, "head_attr": self.head_attr,
                "pooling": self.pooling.to_dict() if self.pooling is not None else None, "head": self.head_spec}


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
