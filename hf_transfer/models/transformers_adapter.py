"""transformers classifiers (AutoModelForSequenceClassification / ForImageClassification): labels in the
config, the encoder's layers as layer groups, sentence-embedding pooling for text, and `save_pretrained`
(text heads transformers' own classes lack are saved in the `hf_transfer` form: models/hf_form.py)."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from .adapter import Adapter, Loaded

_HEADS = ("classifier", "score", "fc", "head", "logits_proj")
_LAYER_INDEX = re.compile(r"\.(?:layer|layers|h|block|blocks)\.(\d+)\.")
_ATTENTION = ("query", "key", "value", "q_proj", "k_proj", "v_proj", "qkv", "q_lin", "v_lin")


def encoder(model) -> nn.Module:
    """The transformer under the classification head (BertModel in BertForSequenceClassification)."""
    net = model.net.get_base_model() if hasattr(model.net, "get_base_model") else model.net  # peft (LoRA) wraps it
    return getattr(net, net.base_model_prefix)


class TransformersAdapter(Adapter):
    name = "transformers"
    prefix = "hf:"
    describes_head = True  # the hf_transfer form (hf_form.py)
    loads_backbone_itself = True  # from_pretrained, with its own key conversions

    def claims_name(self, ref: str) -> bool:
        return True  # any other Hub id

    def claims_folder(self, config: dict) -> bool:
        return True  # any other saved config.json

    def modality(self, config: dict | None) -> str | None:
        if config is None:
            return None
        from .modeling_hf_transfer import MODEL_TYPE  # here, not at the top: it imports transformers

        c = config.get("encoder", config) if config.get("model_type") == MODEL_TYPE else config  # the form nests it
        image, text = "num_channels" in c or "image_size" in c, "vocab_size" in c
        return "image" if image and not text else "text" if text and not image else None

    def saved_modality(self, config: dict) -> str:
        inner = config.get("encoder", config)  # the hf_transfer form nests its encoder's config
        return "text" if "vocab_size" in inner or "vocab_size" in inner.get("text_config", {}) else "image"

    def saved_label_names(self, config: dict) -> list[str] | None:
        id2label = config.get("id2label") or {}
        return [id2label[k] for k in sorted(id2label, key=int)] or None

    def load(self, ref: str, local: bool, cfg, modality: str, label_names: list[str], exported: dict | None) -> Loaded:
        import transformers as tf

        labels = {"num_labels": len(label_names), "id2label": dict(enumerate(label_names)),
                  "label2id": {n: i for i, n in enumerate(label_names)}, **cfg.kwargs}
        if cfg.drop_rate is not None:
            labels["classifier_dropout"] = cfg.drop_rate
        auto = tf.AutoModelForImageClassification if modality == "image" else tf.AutoModelForSequenceClassification
        hub = {"revision": cfg.revision} if cfg.revision else {}
        head_loaded = False
        if cfg.pretrained:  # the hf_transfer form: its encoder's config given, so transformers' own loading reads the weights
            config = {"config": _config(ref, labels, hub, exported)} if exported else labels
            net, info = auto.from_pretrained(ref, ignore_mismatched_sizes=True, output_loading_info=True, trust_remote_code=False,
                                             **config, **hub)
            head = _head_attr(net) + "."
            new_keys = {*info["missing_keys"], *(k[0] if isinstance(k, tuple) else k for k in info["mismatched_keys"])}
            head_loaded = not any(k.startswith(head) or f".{head}" in k for k in new_keys)
        else:
            net = auto.from_config(_config(ref, labels, hub, exported), trust_remote_code=False)
        if modality == "image":
            processor = tf.AutoImageProcessor.from_pretrained(ref, trust_remote_code=False, **hub)
            size = getattr(processor, "crop_size", None) or processor.size
            side = (size.get("height") or size.get("shortest_edge")) if hasattr(size, "get") else size  # dict or SizeDict
            data_config = {"input_size": (3, side, side), "mean": tuple(processor.image_mean),
                           "std": tuple(processor.image_std), "interpolation": "bicubic", "crop_pct": 1.0}
            return Loaded(net, _head_attr(net), processor, data_config, head_loaded)
        pooling = _pooling(cfg, ref, local, exported)
        return Loaded(net, _head_attr(net), _tokenizer(ref, hub), {}, head_loaded, pooling)

    def save(self, model, directory: Path, image_size: int | None) -> None:
        """`save_pretrained` with the tokenizer / image processor; a pooled or rebuilt text head in the
        hf_transfer form (its code shipped beside the weights)."""
        model.net.save_pretrained(directory)
        if model.processor is not None:
            model.processor.save_pretrained(directory)
        if model.pooling is not None or model.head_spec is not None:
            from .hf_form import export

            export(model, directory)

    def set_problem_type(self, model, problem_type: str | None) -> None:
        """config.problem_type: what transformers' own loss and pipelines read (sigmoid for multi-label, the raw
        value for regression)."""
        model.net.config.problem_type = problem_type

    def restore_head(self, model, weights: dict) -> bool:
        """transformers loaded the rest (its own key conversions); the head's weights here."""
        prefix = model.head_attr + "."
        head = {n[len(prefix):]: w for n, w in weights.items() if n.startswith(prefix)}
        own = model.head.state_dict()
        if head.keys() != own.keys() or any(head[n].shape != own[n].shape for n in own):
            return False  # other classes: the backbone's weights only
        model.head.load_state_dict(head, strict=True)
        return True

    def logits(self, model, batch: dict) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        if model.pooling is not None:
            hidden = encoder(model)(**inputs).last_hidden_state
            return model.head(model.pooling(hidden, batch.get("attention_mask")))
        return model.net(**inputs).logits

    def drop_pooler(self, model) -> None:
        if getattr(encoder(model), "pooler", None) is not None:
            encoder(model).pooler = None

    def layer_groups(self, model, names: list[str]) -> list[list[str]]:
        """Embeddings first, then each encoder layer (by its index in the name), then what follows the last."""
        index = {}
        for n in names:
            m = _LAYER_INDEX.search(n)
            index[n] = int(m.group(1)) + 1 if m else None
        deepest = max((i for i in index.values() if i is not None), default=0)
        seen_layer = False
        for n in names:  # before the first layer: embeddings (0); after the last: pooler (deepest+1)
            if index[n] is None:
                index[n] = deepest + 1 if seen_layer else 0
            else:
                seen_layer = True
        return [[n for n in names if index[n] == i] for i in range(deepest + 2)]

    def layer_count(self, model) -> tuple[int, str]:
        return encoder(model).config.num_hidden_layers + 1, "hidden states (the embeddings, then each layer)"

    def layer_features(self, model, batch: dict, layer: int) -> torch.Tensor:
        """Hidden state `layer`, mean-pooled over the attention mask."""
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        hidden = encoder(model)(**inputs, output_hidden_states=True).hidden_states[layer].float()
        mask = batch.get("attention_mask", torch.ones(hidden.shape[:2], device=hidden.device)).unsqueeze(-1).float()
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def lora_targets(self, model) -> list[str]:
        """The attention projections outside the head."""
        head = {id(m) for m in model.head.modules()}
        return [name for name, m in model.net.named_modules() if id(m) not in head
                and isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in _ATTENTION]

    def usage(self, repo: str, modality: str) -> str:
        pipeline = "image-classification" if modality == "image" else "text-classification"
        return (f'from transformers import pipeline\nclassifier = pipeline("{pipeline}", model="{repo}")  '
                "# or a local path\nprint(classifier(...))")


def _head_attr(net: nn.Module) -> str:
    for name in _HEADS:
        if isinstance(getattr(net, name, None), nn.Module):
            return name
    from ..errors import UserError

    raise UserError(f"model.name: cannot find the classification head of {type(net).__name__}")


def _tokenizer(ref: str, hub: dict):
    """The tokenizer saved with `ref`; never runs code shipped in the folder (a saved hf_transfer form ships some)."""
    import transformers as tf

    try:
        return tf.AutoTokenizer.from_pretrained(ref, trust_remote_code=False, **hub)
    except Exception as e:
        if not Path(ref).is_dir():
            raise
        from ..errors import UserError

        raise UserError(f"model.name: {ref!r} has no tokenizer that loads (a text model folder needs its tokenizer "
                        "files, e.g. tokenizer.json or vocab.txt with tokenizer_config.json: save them beside the "
                        "weights with tokenizer.save_pretrained(folder))") from e


def _config(ref: str, labels: dict, hub: dict, exported: dict | None):
    """The transformers config of `ref` with `labels` set; for the `hf_transfer` form (`exported`, its
    config.json), its encoder's config."""
    import transformers as tf

    if exported is None:
        return tf.AutoConfig.from_pretrained(ref, trust_remote_code=False, **labels, **hub)
    config = dict(exported["encoder"])
    return tf.AutoConfig.for_model(config.pop("model_type"), **{**config, **labels})


def _pooling(cfg, ref: str, local: bool, exported: dict | None = None):
    """How a text model's head is fed: 'auto' pools as a sentence-transformers checkpoint says (its
    modules.json), else None (the model's own head, e.g. BERT's [CLS] pooler); or the mode named."""
    from . import pooling

    if cfg.pooling == "head":
        return None
    if cfg.pooling != "auto":
        return pooling.Pooling(cfg.pooling)
    if exported is not None:  # the hf_transfer form says how it pools
        return pooling.Pooling(**exported["pooling"]) if exported.get("pooling") else None
    return pooling.read(ref) if local else pooling.from_hub(ref, cfg.revision)
