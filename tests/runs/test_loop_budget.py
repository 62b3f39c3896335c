"""Budgets in steps, early stopping, class weights and the collapse warning."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_config

from hf_transfer.metrics import classification_metrics, collapse, collapse_advice, collapse_warnings
from hf_transfer.runs.pipeline import run_config
from hf_transfer.tasks.class_weights import class_weight_tensor

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def _run(tmp_path, assets, kind="timm", **train_section):
    model, data = assets[kind]
    cfg = tiny_config(tmp_path / "run", model, data, train={"epochs": 1, **train_section})
    return run_config(cfg)  # cifar_like: 48 training images less a 5-image validation -> 43, batch 8: 5 steps an epoch


def test_max_steps_ends_inside_an_epoch_and_min_steps_adds_epochs(tmp_path, assets):
    m = _run(tmp_path / "a", assets, epochs=5, max_steps=7)
    assert m["steps"] == {"done": 7, "budget": 7, "per_epoch": 5, "early_stopped": False}
    assert [h["step"] for h in m["history"]] == [5, 7]  # the partial last epoch is evaluated
    m = _run(tmp_path / "b", assets, epochs=1, min_steps=12)
    assert m["steps"]["done"] == 12 and [h["step"] for h in m["history"]] == [5, 10, 12]


def test_early_stopping_stops_when_validation_stops_improving(tmp_path, assets):
    # lr 1e-12 with a zero head: the predictions never change, so validation never improves after epoch 1
    stopped = _run(tmp_path / "a", assets, epochs=6, lr=1e-12, early_stopping_patience=2)
    assert [h["epoch"] for h in stopped["history"]] == [1, 2, 3]
    assert stopped["steps"]["early_stopped"] and stopped["selected_epoch"] == 1
    waited = _run(tmp_path / "b", assets, epochs=6, lr=1e-12, early_stopping_patience=2, min_steps=25)
    assert [h["epoch"] for h in waited["history"]] == [1, 2, 3, 4, 5]  # min_steps first
    full = _run(tmp_path / "c", assets, epochs=4, lr=1e-12)
    assert len(full["history"]) == 4 and not full["steps"]["early_stopped"]


def test_a_validation_split_below_min_validation_rows_neither_picks_nor_stops(tmp_path, assets):
    """The same flat run as above: with 5 validation rows under train.min_validation_rows 6 the last epoch is kept
    and patience never runs out; the small split is still scored every epoch and fits the temperature."""
    kept = _run(tmp_path / "a", assets, epochs=4, lr=1e-12, early_stopping_patience=2, min_validation_rows=6)
    assert [h["epoch"] for h in kept["history"]] == [1, 2, 3, 4] and not kept["steps"]["early_stopped"]
    assert kept["selected_epoch"] == 4 and all("validation" in h["eval"] for h in kept["history"])
    assert kept["selected_by"].startswith("last epoch (5 validation rows, fewer than train.min_validation_rows 6")
    assert kept["calibration"]["fitted_on"] == "validation"
    picked = _run(tmp_path / "b", assets, epochs=4, lr=1e-12, early_stopping_patience=2, min_validation_rows=5)
    assert picked["selected_epoch"] == 1 and picked["selected_by"] == "validation/f1_macro (5 validation rows)"


def test_class_weights_change_the_loss_as_computed_by_hand(tmp_path, tiny_bert, text_like):
    """One step over the whole train set at a negligible lr: the logged loss is the weighted
    cross-entropy of the initial model, sum_i w[y_i] * nll_i / sum_i w[y_i]."""
    from accelerate.utils import set_seed

    from hf_transfer.data.splits import build_splits
    from hf_transfer.models import load_backbone

    weights = [1.0, 2.0, 4.0]
    losses = {}
    for name, setting in (("weighted", weights), ("plain", None)):
        cfg = tiny_config(tmp_path / name, tiny_bert, text_like,
                          model={"new_head_init": "default", "kwargs": NO_DROPOUT},
                          train={"epochs": 1, "max_steps": 1, "batch_size": 64, "lr": 1e-12, "class_weights": setting})
        losses[name] = run_config(cfg)["history"][0]["train_loss"]
    set_seed(cfg.train.seed)
    splits = build_splits(cfg.data, "auto", cfg.train.seed)
    set_seed(cfg.train.seed)
    model = load_backbone(cfg.model, "text", splits.label_names).train()
    batch = model.processor(list(splits.train["text"]), padding=True, truncation=True, max_length=16, return_tensors="pt")
    with torch.no_grad():
        nll = F.cross_entropy(model(dict(batch)), torch.tensor(list(splits.train["label"])), reduction="none").numpy()
    w = np.array(weights)[list(splits.train["label"])]
    assert losses["weighted"] == pytest.approx(float((w * nll).sum() / w.sum()), rel=1e-5)
    assert losses["plain"] == pytest.approx(float(nll.mean()), rel=1e-5)
    assert abs(losses["weighted"] - losses["plain"]) > 1e-4


def test_balanced_class_weights_match_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    labels = [0] * 7 + [1] * 2 + [2] * 1
    ours = class_weight_tensor("balanced", labels, 3).numpy()
    assert np.allclose(ours, compute_class_weight("balanced", classes=np.arange(3), y=labels))
    assert class_weight_tensor(None, labels, 3) is None


def test_a_wrong_number_of_class_weights_is_one_clear_error(tmp_path, assets):
    from hf_transfer.errors import ConfigError

    with pytest.raises(ConfigError, match="train.class_weights: 2 weights for 3 classes"):
        _run(tmp_path, assets, class_weights=[1.0, 2.0])


def _scores(preds, refs, names):
    return classification_metrics(preds, refs, names)


def test_collapse_fires_on_a_constant_predictor_and_not_otherwise():
    names = ["negative", "neutral", "positive"]
    refs = [0] * 63 + [1] * 21 + [2] * 16
    constant = _scores([0] * 100, refs, names)
    assert collapse(constant, names).startswith("collapsed to the majority class ('negative' for 100% of the "
                                                "predictions, 63% of the labels): macro-F1 0.2577")
    assert collapse(_scores([1] * 100, refs, names), names).startswith("collapsed to one class ('neutral'")
    assert collapse(_scores(refs, refs, names), names) is None  # a perfect model
    mostly = refs[:]
    mostly[63:70] = [0] * 7  # 70 % one class: skewed, but not collapsed
    assert collapse(_scores(mostly, refs, names), names) is None
    skewed = [0] * 97 + [1] * 3  # the labels themselves are 97 % one class: predicting them is no collapse
    assert collapse(_scores(skewed, skewed, names), names) is None
    assert collapse_warnings({"test": constant, "other": _scores(refs, refs, names)}, names) == [
        "test: " + collapse(constant, names)]
    advice = collapse_advice(None, lr=3e-4, min_steps=None)  # the exact lines to try, in the warning
    assert advice == "`--set train.class_weights=balanced`, `--set train.lr=0.0001`, `--set train.min_steps=300`"
    assert collapse_warnings({"test": constant}, names, advice)[0].endswith("; to try: " + advice)
    assert collapse_advice("balanced", lr=3e-4, min_steps=300) == "`--set train.lr=0.0001`"


def test_a_collapsed_run_says_so_in_metrics_report_and_card(tmp_path, assets):
    m = _run(tmp_path / "a", assets, lr=1e-12)  # a zero head that never moves predicts class 0 for everything
    assert m["warnings"] and all("collapsed to" in w and "; to try: " in w and "`--set train.lr=3.3e-13`" in w for w in m["warnings"])
    out = tmp_path / "a" / "run"
    assert json.loads((out / "metrics.json").read_text())["warnings"] == m["warnings"]
    assert m["warnings"][0] in (out / "report.md").read_text()
    assert m["warnings"][0] in (out / "model" / "README.md").read_text()
    ok = _run(tmp_path / "b", assets, epochs=3)
    assert ok["final"]["test"]["accuracy"] > 0.5 and ok["warnings"] == []


def test_the_benchmarks_step_hook_sees_every_step_and_can_stop_the_run(tmp_path, assets):
    """benchmarks/ time our loop through `after_each_step` (a wrapper of the loop's per-step function): it must see
    each optimizer step once, with a training clock that only grows, and a True from it ends the run as
    train.stop_after_steps does (resumable, no model)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from common import after_each_step

    from hf_transfer.runs import loop_run

    original, seen = loop_run._after_step, []

    def observe(loop, seconds):
        seen.append((loop.state.global_step, seconds))
        return loop.state.global_step == 7

    with after_each_step(observe):
        m = _run(tmp_path, assets, epochs=3)
    assert loop_run._after_step is original  # put back
    assert [s for s, _ in seen] == list(range(1, 8))
    assert all(b > a > 0 for (_, a), (_, b) in zip(seen, seen[1:]))
    assert m["status"] == "stopped" and m["global_step"] == 7 and not (tmp_path / "run" / "model").exists()
