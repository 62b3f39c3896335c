"""What a library adapter says about its models: the one place where timm, transformers (or a third library,
registered with `models.names.register_library`) differ. `TransferModel`, the loop, the strategies and the
reports ask the adapter and never test which library a model comes from.

An adapter is a small object with these methods; the defaults below are what most libraries need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass
class Loaded:
    """What `Adapter.load` returns: the library's classifier and how to feed it."""

    net: nn.Module
    head_attr: str  # dotted path of the classification head inside net ("fc", "classifier", "head.fc")
    processor: object = None  # tokenizer / image processor, when the library has one
    data_config: dict | None = None  # timm-style image data config (input_size, mean, std, interpolation, crop_pct)
    head_loaded: bool = False  # the checkpoint's own head was loaded (the same classes)
    pooling: object = None  # models.pooling.Pooling for text models read as sentence embeddings


class Adapter:
    name = "library"  # model.library, metrics.json `library`, the card's library_name
    prefix = ""  # the explicit name form, e.g. "timm:" (empty: none)
    modalities = ("image", "text")  # what data its models read
    channels_last_on_gpu = False  # train.channels_last's default on a GPU (convolutional image models)
    describes_head = False  # its saved form describes a rebuilt head (else hf_transfer_head.json goes beside it)
    loads_backbone_itself = False  # with a rebuilt head, the library still loads the backbone's weights (else
    #                                the net is built bare and `restore_head` loads every weight)

    # -- telling which library a name is -----------------------------------------------------
    def claims_name(self, ref: str) -> bool:
        """Whether a bare name that is not a local folder (a Hub id, a model name) is this library's."""
        return False

    def claims_folder(self, config: dict) -> bool:
        """Whether a local folder whose config.json is `config` was saved by this library."""
        return False

    def modality(self, config: dict | None) -> str | None:
        """'image' or 'text' from a saved config.json (None: not a local folder), or None when unknown."""
        return self.modalities[0] if len(self.modalities) == 1 else None

    def saved_modality(self, config: dict) -> str:
        """'image' or 'text': what a saved classifier of this library reads."""
        return self.modality(config) or self.modalities[0]

    def saved_label_names(self, config: dict) -> list[str] | None:
        """The class names a saved config.json of this library carries."""
        return config.get("label_names") or None

    def head_classes(self, config: dict) -> list[str] | None:
        """The classes of a saved checkpoint's own head: its names, else its indices ('0', '1', ...)."""
        return self.saved_label_names(config) or [str(i) for i in range(config.get("num_classes") or 0)] or None

    # -- loading and saving --------------------------------------------------------------------
    def load(self, ref: str, local: bool, cfg, modality: str, label_names: list[str], exported: dict | None) -> Loaded:
        raise NotImplementedError

    def save(self, model, directory: Path, image_size: int | None) -> None:
        raise NotImplementedError

    def restore_head(self, model, weights: dict) -> bool:
        """Load a saved folder's `weights` (its rebuilt head included) into `model`; True when the head's were
        loaded, False when the classes differ (the backbone's only). Default: the whole net, as one state dict."""
        head = model.head_attr + "."
        names = {n for n in weights if n.startswith(head)}
        if all(weights[n].shape == p.shape for n, p in model.net.named_parameters() if n in names):
            model.net.load_state_dict(weights, strict=True)
            return True
        missing, unexpected = model.net.load_state_dict({n: w for n, w in weights.items() if n not in names}, strict=False)
        if unexpected or any(not n.startswith(head) for n in missing):
            from ..errors import UserError

            raise UserError(f"model.name: the weights of {model.source} do not fit its own architecture")
        return False

    # -- running -------------------------------------------------------------------------------
    def logits(self, model, batch: dict) -> torch.Tensor:
        """Logits of `model.net` for a batch dict (labels never read)."""
        return model.net(batch["pixel_values"])

    def layer_groups(self, model, names: list[str]) -> list[list[str]]:
        """`names` (the parameters outside the head) grouped from the input to the head. Default: one group."""
        return [names]

    def layer_count(self, model) -> tuple[int, str]:
        """(how many intermediate layers `layer_features` can read, what they are called) for rank --layers."""
        return 0, "layers"

    def layer_features(self, model, batch: dict, layer: int) -> torch.Tensor:
        """(batch, dim) features of intermediate layer `layer` (rank --layers)."""
        raise NotImplementedError(f"{self.name} models have no intermediate layers to rank")

    def set_problem_type(self, model, problem_type: str | None) -> None:
        """Record what the model predicts in its saved config, where the library has a field for it (nothing by
        default; transformers' config.problem_type)."""

    def drop_pooler(self, model) -> None:
        """Remove the model's own pooler once `model.pooling` feeds the head instead (nothing by default)."""

    def lora_targets(self, model) -> list[str]:
        """The module names LoRA adapts by default: every Linear and 2-d convolution outside the head."""
        head = {id(m) for m in model.head.modules()}
        return [name for name, m in model.net.named_modules() if id(m) not in head
                and (isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.groups == 1))]

    def usage(self, repo: str, modality: str) -> str:
        """How a user loads a pushed model with the library itself (the model card's snippet)."""
        return ""
