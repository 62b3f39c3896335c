"""A text classifier as hf-transfer trains it, for transformers' Auto classes: shipped beside the weights.

hf-transfer saves a text model whose head is not the one its transformers class has (the head fed by mean
pooling as a sentence-embedding checkpoint was trained, a bottleneck, hidden layers) with this file and a
config of model_type ``hf_transfer``: loaded as a plain ``BertForSequenceClassification`` it would get a
freshly initialised pooler or classifier and predict other labels. With this file,

    AutoModelForSequenceClassification.from_pretrained(repo, trust_remote_code=True, revision=COMMIT_YOU_READ)
    pipeline("text-classification", model=repo, trust_remote_code=True, revision=COMMIT_YOU_READ)

give hf-transfer's logits; without ``trust_remote_code=True`` transformers refuses to load it and says so.
``trust_remote_code=True`` runs this file from the repository: read it and pin the commit you read.
hf-transfer never passes it (``hf_transfer.load`` builds the same head from its own copy of this code).
The file needs only torch and transformers (hf-transfer itself imports it for the same head and pooling,
so both read the same code).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "hf_transfer"


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None, mode: str, normalize: bool) -> torch.Tensor:
    """(batch, tokens, dim) token states -> (batch, dim), as sentence-transformers' Pooling (+ Normalize)."""
    mask = (torch.ones(hidden.shape[:2], device=hidden.device) if attention_mask is None
            else attention_mask).to(hidden.dtype).unsqueeze(-1)
    if mode == "cls":
        pooled = hidden[:, 0]
    elif mode == "max":
        pooled = hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).amax(1)
    else:
        total, count = (hidden * mask).sum(1), mask.sum(1).clamp(min=1e-9)
        pooled = total / (count.sqrt() if mode == "mean_sqrt_len" else count)
    return F.normalize(pooled, p=2, dim=-1) if normalize else pooled


def mlp_head(in_features: int, hidden: list[int], num_classes: int, dropout: float) -> nn.Sequential:
    """Hidden layers (dropout -> Linear -> GELU, each), then dropout -> Linear to the classes."""
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Dropout(dropout), nn.Linear(width, h), nn.GELU()]
        width = h
    return nn.Sequential(*layers, nn.Dropout(dropout), nn.Linear(width, num_classes))


def bottleneck_head(in_features: int, width: int, num_classes: int) -> nn.Sequential:
    """Linear -> `width`, BatchNorm, ReLU (the bottleneck, index 0), then Linear to the classes (index 1)."""
    bottleneck = nn.Sequential(nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU())
    return nn.Sequential(bottleneck, nn.Linear(width, num_classes))


def build_head(spec: dict | None, in_features: int, num_classes: int) -> nn.Module:
    """The head a saved spec describes: a bottleneck, hidden layers, or (no spec) one Linear layer."""
    if not spec:
        return nn.Linear(in_features, num_classes)
    if spec.get("bottleneck"):
        return bottleneck_head(spec["mlp_in"], spec["bottleneck"], num_classes)
    return mlp_head(spec["mlp_in"], spec["hidden"], num_classes, spec["dropout"])


class HFTransferConfig(PretrainedConfig):
    """The encoder's own config (`encoder`), where its weights sit (`encoder_prefix`, `head_attr`), what feeds the
    head (`pooling`: {mode, normalize}, or None for the encoder's pooler output) and the head (`head`: a spec)."""

    model_type = MODEL_TYPE

    def __init__(self, encoder: dict | None = None, encoder_prefix: str = "bert", head_attr: str = "classifier",
                 pooling: dict | None = None, head: dict | None = None, loadable: bool = True, **kwargs):
        if not loadable:  # a form this file cannot rebuild (an image model's new head, an unusual text head)
            raise ValueError("this model's head is not one transformers' classes have and this file cannot rebuild "
                             "it; load it with hf-transfer: `import hf_transfer; hf_transfer.load(PATH).predict(...)`")
        super().__init__(**kwargs)
        self.encoder, self.encoder_prefix, self.head_attr = encoder or {}, encoder_prefix, head_attr
        self.pooling, self.head = pooling, head


class HFTransferForSequenceClassification(PreTrainedModel):
    config_class = HFTransferConfig
    base_model_prefix = "hf_transfer"

    def __init__(self, config: HFTransferConfig):
        super().__init__(config)
        encoder_config = AutoConfig.for_model(**config.encoder)
        self.encoder_prefix, self.head_attr = config.encoder_prefix, config.head_attr
        try:  # BERT-like encoders: the pooler only when it feeds the head
            encoder = AutoModel.from_config(encoder_config, add_pooling_layer=config.pooling is None, trust_remote_code=False)
        except TypeError:  # encoders without that option
            encoder = AutoModel.from_config(encoder_config, trust_remote_code=False)
            if config.pooling is not None and getattr(encoder, "pooler", None) is not None:
                encoder.pooler = None
        setattr(self, self.encoder_prefix, encoder)
        setattr(self, self.head_attr, build_head(config.head, encoder_config.hidden_size, config.num_labels))
        self.post_init()

    def _init_weights(self, module):  # every weight comes from the checkpoint
        pass

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        inputs = {k: v for k, v in (("input_ids", input_ids), ("attention_mask", attention_mask),
                                    ("token_type_ids", token_type_ids)) if v is not None}
        out = getattr(self, self.encoder_prefix)(**inputs, **kwargs)
        p = self.config.pooling
        features = pool(out.last_hidden_state, attention_mask, p["mode"], p["normalize"]) if p else out.pooler_output
        logits = getattr(self, self.head_attr)(features)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
