import json

import pytest
import torch

from hf_transfer.config import ModelConfig
from hf_transfer.errors import UserError
from hf_transfer.models import load_backbone, resolve

LABELS = ["airplane", "bird", "cat"]


def test_timm_folder_gets_a_new_head_with_label_names(tiny_timm, tmp_path):
    model = load_backbone(ModelConfig(name=str(tiny_timm)), "image", LABELS)
    assert model.library == "timm" and model.head.out_features == 3
    logits, features = model({"pixel_values": torch.randn(2, 3, 32, 32)}, return_features=True)
    assert logits.shape == (2, 3) and features.shape == (2, model.head.in_features)
    groups = model.layer_groups()
    assert groups[0][0] == "net.conv_stem.weight" and groups[-1] == ["net.classifier.weight", "net.classifier.bias"]
    names = [n for g in groups for n in g]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())  # every parameter, once


def test_pretrained_weights_are_kept_and_scratch_differs(tiny_timm):
    from safetensors.torch import load_file

    saved = load_file(str(tiny_timm / "model.safetensors"))
    pre = load_backbone(ModelConfig(name=str(tiny_timm)), "image", LABELS).net.state_dict()
    scratch = load_backbone(ModelConfig(name=str(tiny_timm), pretrained=False), "image", LABELS).net.state_dict()
    assert torch.equal(pre["conv_stem.weight"], saved["conv_stem.weight"])
    assert not torch.equal(scratch["conv_stem.weight"], saved["conv_stem.weight"])


def test_timm_save_round_trip_predicts_the_same(tiny_timm, tmp_path):
    import timm

    model = load_backbone(ModelConfig(name=str(tiny_timm)), "image", LABELS).eval()
    model.save_pretrained(tmp_path / "model", image_size=32)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["label_names"] == LABELS and config["num_classes"] == 3
    assert config["pretrained_cfg"]["input_size"] == [3, 32, 32]
    again = timm.create_model(f"local-dir:{tmp_path / 'model'}", pretrained=True).eval()
    x = torch.randn(3, 3, 32, 32)
    assert torch.equal(model({"pixel_values": x}), again(x))
    assert again.pretrained_cfg["label_names"] == LABELS


def test_timm_save_writes_the_input_size_with_an_older_timm(tiny_timm, tmp_path, monkeypatch):
    """timm releases whose save_for_hf has no data_config (e.g. a GPU image's) still record the size."""
    import timm.models

    real = timm.models.save_for_hf

    def old_save_for_hf(model, save_directory, model_config=None, model_args=None, safe_serialization=False):
        return real(model, save_directory, model_config=model_config, model_args=model_args,
                    safe_serialization=safe_serialization)

    monkeypatch.setattr(timm.models, "save_for_hf", old_save_for_hf)
    model = load_backbone(ModelConfig(name=str(tiny_timm)), "image", LABELS).eval()
    model.save_pretrained(tmp_path / "model", image_size=32)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["pretrained_cfg"]["input_size"] == [3, 32, 32] and config["label_names"] == LABELS
    again = load_backbone(ModelConfig(name=str(tmp_path / "model")), "image", LABELS).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model({"pixel_values": x}), again({"pixel_values": x}))


def test_transformers_folder_round_trip_with_id2label(tiny_bert, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = load_backbone(ModelConfig(name=str(tiny_bert)), "text", ["neg", "pos"]).eval()
    assert model.library == "transformers" and model.head.out_features == 2
    batch = dict(model.processor(["good great", "bad"], padding=True, return_tensors="pt"))
    logits, features = model(batch, return_features=True)
    assert logits.shape == (2, 2) and features.shape == (2, 32)
    groups = model.layer_groups()
    assert all("embeddings" in n for n in groups[0])
    assert [len(g) for g in groups[1:3]] == [16, 16] and all("layer.0." in n for n in groups[1])
    assert groups[-1] == ["net.classifier.weight", "net.classifier.bias"]
    model.save_pretrained(tmp_path / "model")
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path / "model").eval()
    assert again.config.id2label == {0: "neg", 1: "pos"}
    batch2 = dict(AutoTokenizer.from_pretrained(tmp_path / "model")(["good great", "bad"], padding=True, return_tensors="pt"))
    assert torch.equal(model(batch), again(**batch2).logits)


@pytest.mark.parametrize("name, library", [
    ("timm/resnet50.a1_in1k", "timm"), ("resnet50", "timm"), ("timm:resnet50", "timm"),
    ("google-bert/bert-base-uncased", "transformers"), ("hf:timm/vit_base", "transformers"),
])
def test_names_resolve_to_the_right_library(name, library):
    assert resolve(name).adapter.name == library


def test_unreachable_model_id_names_it_and_the_network():
    with pytest.raises(UserError) as e:
        load_backbone(ModelConfig(name="no-such-owner/no-such-model"), "text", LABELS)
    msg = str(e.value)
    assert "no-such-owner/no-such-model" in msg and "network" in msg and "\n" not in msg
    with pytest.raises(UserError, match="local folder './missing' does not exist"):
        load_backbone(ModelConfig(name="./missing"), "image", LABELS)


def test_text_data_refuses_a_timm_model(tiny_timm):
    with pytest.raises(UserError, match="timm image model, but the data is text"):
        load_backbone(ModelConfig(name=str(tiny_timm)), "text", LABELS)


def test_new_heads_start_at_zero_and_loaded_heads_are_kept(tiny_timm, tiny_bert, tmp_path):
    from safetensors.torch import load_file

    new = load_backbone(ModelConfig(name=str(tiny_timm)), "image", LABELS)
    assert all(not p.any() for p in new.head.parameters())
    random = load_backbone(ModelConfig(name=str(tiny_timm), new_head_init="default"), "image", LABELS)
    assert random.head.weight.abs().sum() > 0
    kept = load_backbone(ModelConfig(name=str(tiny_timm)), "image", list("vwxyz"))  # the checkpoint's own 5 classes
    assert torch.equal(kept.head.weight, load_file(str(tiny_timm / "model.safetensors"))["classifier.weight"])
    bert = load_backbone(ModelConfig(name=str(tiny_bert)), "text", ["a", "b"])
    assert all(not p.any() for p in bert.head.parameters())
    bert.head.weight.data.normal_()
    bert.save_pretrained(tmp_path / "bert")
    again = load_backbone(ModelConfig(name=str(tmp_path / "bert")), "text", ["a", "b"])
    assert torch.equal(again.head.weight, bert.head.weight)
