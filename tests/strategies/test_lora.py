import json

import pytest
import torch
from helpers import KINDS, pretrained, run, strategy_cfg, trained
from safetensors.torch import load_file

from hf_transfer.strategies import get_strategy


def _inputs(kind, model):
    if kind == "timm":
        return {"pixel_values": torch.randn(2, 3, 32, 32)}
    return dict(model.processor(["good nice", "bad sad ugly"], padding=True, return_tensors="pt"))


def _lora_model(kind, assets, save="merged"):
    model = pretrained(kind, assets)
    s = get_strategy(strategy_cfg(name="lora", lora={"r": 4, "save": save}))
    s.setup(model)
    with torch.no_grad():  # peft starts lora_B at zero; move it so the adapters matter
        for n, p in model.named_parameters():
            if "lora_B" in n or ("modules_to_save" in n):
                p.add_(torch.randn_like(p) * 0.1)
    return model.eval(), s


@pytest.mark.parametrize("kind", KINDS)
def test_only_adapters_and_head_train(kind, assets):
    model, _ = _lora_model(kind, assets)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert any("modules_to_save" in n for n in trainable)  # the new head trains in full
    assert sum(p.numel() for n, p in model.named_parameters() if p.requires_grad) < 0.5 * sum(
        p.numel() for p in model.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_merged_export_loads_as_a_plain_model_and_predicts_the_same(kind, assets, tmp_path):
    model, s = _lora_model(kind, assets)
    x = _inputs(kind, model)
    with torch.no_grad():
        expected = model(x)
    assert s.save(model, tmp_path / "model", image_size=32)
    again = trained(kind, tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(again(x), expected, atol=1e-5)
    assert not any("lora" in k for k in load_file(str(tmp_path / "model" / "model.safetensors")))


@pytest.mark.parametrize("kind", KINDS)
def test_adapter_export_keeps_the_head(kind, assets, tmp_path):
    model, s = _lora_model(kind, assets, save="adapter")
    s.save(model, tmp_path / "model", image_size=32)
    weights = load_file(str(tmp_path / "model" / "adapter_model.safetensors"))
    assert any("lora_A" in k for k in weights)
    assert any(model.head_attr in k for k in weights), sorted(weights)[:5]
    assert json.loads((tmp_path / "model" / "adapter_config.json").read_text())["modules_to_save"] == [model.head_attr]


@pytest.mark.parametrize("kind", KINDS)
def test_runs_end_to_end(tmp_path, kind, assets):
    _, metrics = run(tmp_path, kind, assets, {"name": "lora"})
    assert metrics["status"] == "finished"
    assert metrics["parameters"]["trainable"] < metrics["parameters"]["total"] / 2
