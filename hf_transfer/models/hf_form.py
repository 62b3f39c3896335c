"""The `hf_transfer` form of a saved text classifier whose head transformers' own classes lack (sentence-
embedding pooling, a bottleneck, hidden layers): config.json with the encoder's config nested, the pooling and
the head described, and modeling_hf_transfer.py shipped beside the weights, so that transformers' Auto classes
load the same logits under trust_remote_code=True and refuse loudly without."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

EXPORTED_FILES = ("modeling_hf_transfer.py",)


def export(model, directory: Path) -> None:
    """Rewrite a saved transformers classifier's config.json into the `hf_transfer` form. The shipped class is
    checked against the model on two sentences before it is offered; a form it does not rebuild (an image
    model's new head, a text head it reads differently) is saved so that loading it with transformers fails
    with a message that says to load it with hf-transfer."""
    from . import modeling_hf_transfer as modeling

    path = directory / "config.json"
    encoder = json.loads(path.read_text())
    fields = {k: encoder.pop(k) for k in ("id2label", "label2id") if k in encoder}
    problem = encoder.pop("problem_type", None)
    for key in ("architectures", "auto_map"):
        encoder.pop(key, None)
    fields.update(encoder=encoder, **model.export_fields(), **({"problem_type": problem} if problem else {}))
    loadable = model.modality == "text" and _shipped_class_agrees(model, fields)
    auto = {"AutoConfig": "modeling_hf_transfer.HFTransferConfig"}
    if loadable:
        auto["AutoModelForSequenceClassification"] = "modeling_hf_transfer.HFTransferForSequenceClassification"
    config = {"model_type": modeling.MODEL_TYPE, "architectures": ["HFTransferForSequenceClassification"],
              "auto_map": auto, **fields, "loadable": loadable, "transformers_version": encoder.get("transformers_version")}
    path.write_text(json.dumps(config, indent=2))
    shutil.copy2(Path(modeling.__file__), directory / EXPORTED_FILES[0])


@torch.no_grad()
def _shipped_class_agrees(model, fields: dict) -> bool:
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


def exported_config(ref: str) -> dict | None:
    """The config.json of a local folder saved in the `hf_transfer` form, else None."""
    from . import saved_config
    from .modeling_hf_transfer import MODEL_TYPE

    if not (Path(ref) / "config.json").is_file():
        return None
    config = saved_config.read(ref)
    return config if config.get("model_type") == MODEL_TYPE else None
