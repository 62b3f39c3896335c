"""Every saved form loads where users load it: the plain library gives hf-transfer's logits, or refuses loudly.

A head transformers' own class does not have (mean pooling, a bottleneck, hidden layers) is saved in the
`hf_transfer` form: its code ships beside the weights, transformers loads it under trust_remote_code=True
with the same logits and refuses it without; never a freshly initialised pooler or classifier that only
prints a load warning. A timm model with such a head fails timm's strict load."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import run, tiny_config

import hf_transfer

TEXTS = ["good great fine", "bad awful poor sad ugly", "red"]
TEXT_FORMS = {  # name: (config sections, saved as the hf_transfer form)
    "cls_pooler": ({}, False),
    "mean_pooling": ({"model": {"pooling": "mean"}}, True),
    "bottleneck": ({"model": {"bottleneck": 8}}, True),
    "hidden_layers": ({"strategy": {"name": "head", "head": {"hidden": [8]}}}, True),
    "lora_merged": ({"strategy": {"name": "lora"}}, False),
}


def _trained(tmp_path, kind, assets, sections):
    sections = dict(sections)
    strategy = sections.pop("strategy", {"name": "full"})
    out, _ = run(tmp_path, kind, assets, strategy, train={"epochs": 1, "lr": 1e-2}, **sections)
    return out / "model", hf_transfer.load(out).model.eval()


@pytest.mark.parametrize("form", TEXT_FORMS)
def test_transformers_loads_each_saved_text_form_with_our_logits(form, tmp_path, assets):
    from transformers import AutoModelForSequenceClassification

    sections, exported = TEXT_FORMS[form]
    saved, ours = _trained(tmp_path, "transformers", assets, sections)
    batch = ours.processor(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = ours(dict(batch))
    config = json.loads((saved / "config.json").read_text())
    assert (config["model_type"] == "hf_transfer") == exported
    if exported:
        assert config["loadable"] and (saved / "modeling_hf_transfer.py").is_file()
        with pytest.raises(ValueError, match="trust_remote_code"):  # never silently a fresh pooler or head
            AutoModelForSequenceClassification.from_pretrained(saved)
    plain = AutoModelForSequenceClassification.from_pretrained(saved, trust_remote_code=exported).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(**batch).logits, expected, atol=1e-5, rtol=1e-4)
    assert [plain.config.id2label[i] for i in expected.argmax(-1).tolist()] == \
        [p["label"] for p in hf_transfer.load(saved).predict(TEXTS)]


def test_the_pipeline_of_a_pooled_model_predicts_our_labels(tmp_path, assets):
    from transformers import pipeline

    saved, ours = _trained(tmp_path, "transformers", assets, {"model": {"pooling": "mean"}})
    predicted = pipeline("text-classification", model=str(saved), trust_remote_code=True)(TEXTS)
    assert [p["label"] for p in predicted] == [p["label"] for p in hf_transfer.load(saved).predict(TEXTS)]


def test_timm_loads_a_plain_saved_model_and_refuses_a_bottleneck(tmp_path, assets):
    import timm

    saved, ours = _trained(tmp_path / "plain", "timm", assets, {})
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(timm.create_model(f"local-dir:{saved}", pretrained=True).eval()(pixels),
                                   ours({"pixel_values": pixels}))
    saved, _ = _trained(tmp_path / "bottleneck", "timm", assets, {"model": {"bottleneck": 8}})
    with pytest.raises(RuntimeError, match="Unexpected key"):  # loud: timm's strict load, not a random head
        timm.create_model(f"local-dir:{saved}", pretrained=True)


def _trained_vit(out, tiny_vit, cifar_like, **model):
    from hf_transfer.runs.pipeline import run_config

    run_config(tiny_config(out, tiny_vit, cifar_like, model=model, train={"epochs": 1, "load_best_at_end": False}))
    return out / "model", hf_transfer.load(out).model.eval()


def test_an_image_transformer_with_a_new_head_refuses_to_load_without_hf_transfer(tmp_path, tiny_vit, cifar_like):
    from transformers import AutoModelForImageClassification

    saved, ours = _trained_vit(tmp_path / "plain", tiny_vit, cifar_like)
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(AutoModelForImageClassification.from_pretrained(saved).eval()(pixel_values=pixels).logits,
                                   ours({"pixel_values": pixels}))
    saved, ours = _trained_vit(tmp_path / "bottleneck", tiny_vit, cifar_like, bottleneck=8)
    assert not json.loads((saved / "config.json").read_text())["loadable"]
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoModelForImageClassification.from_pretrained(saved)
    with pytest.raises(ValueError, match="hf_transfer.load"):
        AutoModelForImageClassification.from_pretrained(saved, trust_remote_code=True)
    with torch.no_grad():  # and hf-transfer rebuilds it
        assert ours({"pixel_values": pixels}).shape == (2, 3)
