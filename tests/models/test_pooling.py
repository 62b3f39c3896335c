"""Sentence-embedding checkpoints are pooled as they were trained (their modules.json), not by [CLS]."""

import json

import pytest
import torch
from helpers import tiny_config

from hf_transfer.config import ModelConfig
from hf_transfer.models import load_backbone, pooling
from hf_transfer.runs.pipeline import run_config

TEXTS = ["good great fine", "bad", "red blue green pink grey red blue", "nice happy sad ugly"]


def test_pooled_features_equal_sentence_transformers_encode(tiny_sentence_model):
    from sentence_transformers import SentenceTransformer

    model = load_backbone(ModelConfig(name=str(tiny_sentence_model)), "text", ["a", "b"]).eval()
    assert model.pooling == pooling.Pooling("mean", normalize=True)
    batch = model.processor(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        _, features = model(dict(batch), return_features=True)
    expected = SentenceTransformer(str(tiny_sentence_model), device="cpu").encode(TEXTS, convert_to_tensor=True)
    assert torch.allclose(features, expected, atol=1e-6)
    assert torch.allclose(features.norm(dim=-1), torch.ones(len(TEXTS)))


def test_padding_does_not_change_the_mean(tiny_sentence_model):
    model = load_backbone(ModelConfig(name=str(tiny_sentence_model)), "text", ["a", "b"]).eval()
    short = model.processor(TEXTS[:1], return_tensors="pt")
    padded = model.processor(TEXTS[:1], padding="max_length", max_length=20, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(model(dict(short), return_features=True)[1],
                              model(dict(padded), return_features=True)[1], atol=1e-6)


def test_other_checkpoints_keep_their_own_head(tiny_bert):
    model = load_backbone(ModelConfig(name=str(tiny_bert)), "text", ["a", "b"])
    assert model.pooling is None and model.net.bert.pooler is not None
    forced = load_backbone(ModelConfig(name=str(tiny_bert), pooling="mean"), "text", ["a", "b"])
    assert forced.pooling == pooling.Pooling("mean") and forced.net.bert.pooler is None  # unused: dropped


def test_a_pooled_model_saves_and_reloads_with_the_same_logits(tmp_path, tiny_sentence_model, text_like):
    cfg = tiny_config(tmp_path / "run", tiny_sentence_model, text_like, train={"epochs": 1})
    m = run_config(cfg)
    assert m["pooling"] == {"mode": "mean", "normalize": True}
    saved = tmp_path / "run" / "model"
    assert json.loads((saved / "config.json").read_text())["pooling"] == {"mode": "mean", "normalize": True}
    assert "trust_remote_code=True" in (saved / "README.md").read_text()  # the card says how to load it
    reloaded = load_backbone(ModelConfig(name=str(saved)), "text", m["label_names"]).eval()
    batch = reloaded.processor(TEXTS, padding=True, return_tensors="pt")
    config = json.loads((saved / "config.json").read_text())
    assert list(config["id2label"].values()) == m["label_names"]
    with torch.no_grad():
        first, second = reloaded(dict(batch)), reloaded(dict(batch))
    assert torch.equal(first, second) and first.abs().sum() > 0  # the trained head, loaded


def test_lr_multipliers_split_the_groups_into_head_and_backbone(tiny_sentence_model):
    from hf_transfer.runs.optim import apply_lr_multipliers
    from hf_transfer.strategies import default_param_groups

    st = load_backbone(ModelConfig(name=str(tiny_sentence_model)), "text", ["a", "b"])
    groups = apply_lr_multipliers(default_param_groups(st, 1e-3, 0.01), st, {"head": 100.0, "backbone": 0.5})
    head = st.head_parameter_names()
    assert {n for g in groups if g["lr"] == pytest.approx(0.1) for n in g["param_names"]} == head
    for g in groups:
        assert g["lr"] == pytest.approx(0.1 if set(g["param_names"]) <= head else 5e-4)
        assert all(p is dict(st.named_parameters())[n] for n, p in zip(g["param_names"], g["params"]))
    assert sum(len(g["params"]) for g in groups) == len(list(st.parameters()))


def test_unsupported_pooling_is_one_clear_error(tmp_path, tiny_bert):
    import shutil

    from hf_transfer.errors import UserError

    path = tmp_path / "weighted"
    shutil.copytree(tiny_bert, path)
    pooling.write(path, pooling.Pooling("mean"))
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_weightedmean_tokens": True}))
    with pytest.raises(UserError, match="pooling_mode_weightedmean_tokens; supported"):
        load_backbone(ModelConfig(name=str(path)), "text", ["a", "b"])
