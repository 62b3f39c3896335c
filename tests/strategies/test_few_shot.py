"""setfit: the body tuned contrastively on pairs of the few labels (the setfit library), then frozen_logreg's
regression; a saved model that evaluates as the run scored it. And in-domain semi-supervised self-training on the
unlabelled rest that data.labelled_per_class leaves."""

import pytest
import torch
from helpers import tiny_config

from hf_transfer.config import ModelConfig
from hf_transfer.errors import UserError
from hf_transfer.evaluation import evaluate
from hf_transfer.models import load_backbone
from hf_transfer.runs.pipeline import run_config

FEW = {"labelled_per_class": 4, "eval_splits": ["test"]}
SETFIT = {"name": "setfit", "setfit": {"iterations": 2, "batch_size": 8}}


def _setfit(tmp_path, tiny_bert, text_like, name="sf", **strategy):
    return tiny_config(tmp_path / name, tiny_bert, text_like, model={"pooling": "mean"}, data=FEW,
                       strategy={**SETFIT, **strategy}, train={"seed": 3})


def _backbone(path, labels):
    model = load_backbone(ModelConfig(name=str(path), pooling="mean"), "text", labels)
    return {k: v for k, v in model.state_dict().items() if k not in model.head_parameter_names()}


def test_setfit_tunes_the_body_and_saves_a_model_that_evaluates_as_scored(tmp_path, tiny_bert, text_like):
    m = run_config(_setfit(tmp_path, tiny_bert, text_like))
    again = run_config(_setfit(tmp_path, tiny_bert, text_like, name="again"))
    assert again["final"] == m["final"]
    assert m["status"] == "finished" and m["strategy"] == "setfit" and m["train_samples"] == 12  # 4 per class
    assert m["baseline"]["features"].startswith("SetFit-tuned")
    card = (tmp_path / "sf" / "model" / "README.md").read_text()
    assert "A few-shot text classifier (SetFit: " in card and "trained on 12 labelled samples" in card
    labels = m["label_names"]
    before, after = _backbone(tiny_bert, labels), _backbone(tmp_path / "sf" / "model", labels)
    changed = [k for k in after if k in before and not torch.equal(after[k], before[k])]
    assert any("encoder.layer.0.attention" in k for k in changed)  # the contrastive phase moved the body
    same = _backbone(tmp_path / "again" / "model", labels)
    assert all(torch.equal(after[k], same[k]) for k in after)  # the same seed: the same weights
    scored = evaluate(str(tmp_path / "sf" / "model"), [str(text_like)], tmp_path / "eval", split="test")
    (only,) = scored["final"].values()
    assert only["accuracy"] == pytest.approx(m["final"]["test"]["accuracy"]) and only["num_samples"] == 18


def test_setfit_refuses_a_model_without_token_pooling_and_images(tmp_path, tiny_bert, text_like, tiny_timm, cifar_like):
    cfg = tiny_config(tmp_path / "cls", tiny_bert, text_like, data=FEW, strategy=SETFIT)  # the [CLS] pooler head
    with pytest.raises(UserError, match="^strategy.name: setfit needs a sentence-embedding text model"):
        run_config(cfg)
    with pytest.raises(UserError, match="^strategy.name: setfit works on text data"):
        run_config(tiny_config(tmp_path / "img", tiny_timm, cifar_like, strategy=SETFIT))
    assert not (tmp_path / "img").exists()


def test_self_training_learns_from_the_unlabelled_rest_of_the_same_domain(tmp_path, tiny_timm, cifar_like):
    teacher = run_config(tiny_config(tmp_path / "ft", tiny_timm, cifar_like, data={"labelled_per_class": 3}))
    cfg = tiny_config(tmp_path / "st", tmp_path / "ft" / "model", cifar_like, data={"labelled_per_class": 3},
                      strategy={"name": "self_training", "self_training": {"threshold": 0.0}})
    m = run_config(cfg)
    assert teacher["train_samples"] == m["train_samples"] == 9
    assert m["status"] == "finished" and m["history"][-1]["train_terms"]["pseudo_kept"] == pytest.approx(1.0)
    with pytest.raises(UserError, match="^data.labelled_per_class: 20 per class leaves no unlabelled training rows"):
        run_config(tiny_config(tmp_path / "all", tiny_timm, cifar_like, data={"labelled_per_class": 20},
                               strategy={"name": "self_training"}))
