"""The published domain-adaptation recipe and its controls: the bottleneck, LR multipliers per part,
the annealing schedule, adabn (only BatchNorm statistics change), the joint-batch control, and
label-shift estimation (bbse and mlls recover known priors; the runs change only the classifier)."""

import itertools
import json

import numpy as np
import pytest
import torch
from helpers import image_target, text_target, tiny_config
from safetensors.torch import load_file

from hf_transfer.calibration import fit_scaling
from hf_transfer.config import ModelConfig, TrainConfig, bottleneck_width
from hf_transfer.errors import UserError
from hf_transfer.models import HEAD_FILE, load_backbone
from hf_transfer.models.heads import add_bottleneck
from hf_transfer.runs.optim import apply_lr_multipliers, make_optimizer, make_scheduler
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import default_param_groups, get_strategy
from hf_transfer.strategies.posthoc import estimate_label_shift, estimate_priors_em, expected_macro_f1, macro_f1_offsets


def _da(out, backbone, source, target, method, **sections):
    return tiny_config(out, backbone, source, data={"target": {"dataset": str(target)}},
                       **{"train": {"batch_size": 6, "epochs": 1}, "strategy": {"name": method}, **sections})


def _model_weights(run):
    return load_file(str(run / "model" / "model.safetensors"))


def test_bottleneck_is_on_for_every_adaptation_method_and_off_otherwise(tiny_timm, cifar_like, tmp_path):
    plain = tiny_config(tmp_path, tiny_timm, cifar_like)
    assert bottleneck_width(plain) == 0
    for method in ("source_only", "dann", "oracle"):
        assert bottleneck_width(_da(tmp_path, tiny_timm, cifar_like, "t", method)) == 256
    assert bottleneck_width(_da(tmp_path, tiny_timm, cifar_like, "t", "dann", model={"bottleneck": 0})) == 0
    assert bottleneck_width(_da(tmp_path, tiny_timm, cifar_like, "t", "dann", model={"bottleneck": 16})) == 16


def test_bottleneck_output_is_the_feature_and_the_saved_model_reloads_it(tiny_timm, tmp_path):
    torch.manual_seed(0)
    model = load_backbone(ModelConfig(name=str(tiny_timm)), "image", ["a", "b", "c"])
    width = model.num_features
    add_bottleneck(model, 8)
    assert model.feature_dim == 8 and model.num_features == width
    assert torch.count_nonzero(model.head[-1].weight) == 0  # the classifier starts at zero, as a new linear head
    torch.nn.init.normal_(model.head[-1].weight)
    model.eval()
    x = {"pixel_values": torch.randn(4, 3, 32, 32)}
    logits, features = model(x, return_features=True)
    backbone = model.net.forward_head(model.net.forward_features(x["pixel_values"]), pre_logits=True)
    torch.testing.assert_close(features, model.head[0](backbone))
    torch.testing.assert_close(logits, model.head[-1](features))
    model.save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / HEAD_FILE).read_text())["bottleneck"] == 8
    again = load_backbone(ModelConfig(name=str(tmp_path / "saved")), "image", ["a", "b", "c"]).eval()
    assert not again.head_is_new
    torch.testing.assert_close(again(x), logits)


def test_lr_multipliers_put_each_part_in_its_own_group(tiny_timm):
    model = load_backbone(ModelConfig(name=str(tiny_timm)), "image", ["a", "b", "c"])
    add_bottleneck(model, 8)
    cfg = _da("/tmp/unused", tiny_timm, tiny_timm, "t", "dann").strategy
    get_strategy(cfg).setup(model)  # adds the domain discriminator
    groups = apply_lr_multipliers(default_param_groups(model, 1e-2, 0.01), model,
                                  {"backbone": 0.1, "discriminator": 2.0})
    optimizer = make_optimizer(groups, TrainConfig(lr=1e-2))
    by_part = {}
    for g in optimizer.param_groups:
        by_part.setdefault(g["name"].split("/")[1], set()).add(round(g["lr"], 12))
    assert by_part == {"backbone": {1e-3}, "bottleneck": {1e-2}, "head": {1e-2}, "discriminator": {2e-2}}
    names = [n for g in optimizer.param_groups for n in g["param_names"]]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())  # each parameter once
    part = {n: g["name"].split("/")[1] for g in optimizer.param_groups for n in g["param_names"]}
    assert all(part[n] == "discriminator" for n in names if n.startswith("domain_discriminator."))
    assert {part[n] for n in names if n.startswith("net.classifier.0.")} == {"bottleneck"}
    assert {part[n] for n in names if n.startswith("net.classifier.1.")} == {"head"}


def test_annealing_schedule_is_ganins():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.01)
    scheduler = make_scheduler(optimizer, TrainConfig(lr=0.01, epochs=1, scheduler="annealing", optimizer="sgd"), 100)
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[50] == pytest.approx(0.01 * (1 + 10 * 0.5) ** -0.75)
    assert all(a > b for a, b in itertools.pairwise(lrs))


@pytest.fixture
def source_only_run(tiny_timm, tiny_bert, cifar_like, text_like, tmp_path):
    """(model, source, target, run dir) of a trained source_only run with a target domain."""
    def make(library):
        model, source = (tiny_timm, cifar_like) if library == "timm" else (tiny_bert, text_like)
        target = (image_target if library == "timm" else text_target)(tmp_path / f"target_{library}")
        run = tmp_path / f"source_only_{library}"
        run_config(_da(run, model, source, target, "source_only"))
        return model, source, target, run
    return make


def test_adabn_changes_only_batchnorm_statistics(source_only_run, tmp_path):
    _, source, target, run = source_only_run("timm")
    metrics = run_config(_da(tmp_path / "adabn", run / "model", source, target, "adabn"))
    before, after = _model_weights(run), _model_weights(tmp_path / "adabn")
    assert before.keys() == after.keys()
    stats = {k for k in before if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert all(torch.equal(before[k], after[k]) for k in before if k not in stats)  # every weight: bit-identical
    changed = [k for k in stats if k.endswith("running_mean") and not torch.equal(before[k], after[k])]
    assert changed and any(k.startswith("classifier.0.") for k in changed)  # the bottleneck's BatchNorm too
    assert metrics["posthoc"]["method"] == "adabn" and metrics["parameters"]["trainable"] == 0
    assert {"test", "target"} <= set(metrics["final"]) and (tmp_path / "adabn" / "features.npz").is_file()
    assert "adabn" in (tmp_path / "adabn" / "model" / "README.md").read_text()


def test_adabn_refuses_a_model_without_batchnorm(source_only_run, tmp_path, tiny_bert, text_like):
    target = text_target(tmp_path / "target")
    run = tmp_path / "plain"
    run_config(_da(run, tiny_bert, text_like, target, "source_only", model={"bottleneck": 0}))
    with pytest.raises(UserError, match=r"^strategy\.name: adabn re-estimates BatchNorm statistics"):
        run_config(_da(tmp_path / "adabn", run / "model", text_like, target, "adabn", model={"bottleneck": 0}))
    with pytest.raises(UserError, match=r"^model\.name: adabn adjusts a trained source model"):
        run_config(_da(tmp_path / "fresh", tiny_bert, text_like, target, "adabn"))


def test_label_shift_estimate_recovers_known_priors():
    """A classifier with a known confusion, source priors p and target priors q: BBSE finds q."""
    rng = np.random.default_rng(0)
    confusion = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.05, 0.15, 0.8]])  # P(predicted | true), rows: true
    p, q = np.array([0.6, 0.25, 0.15]), np.array([0.05, 0.85, 0.10])

    def sample(priors, n):
        y = rng.choice(3, size=n, p=priors)
        return np.array([rng.choice(3, p=confusion[k]) for k in y]), y

    val_pred, val_true = sample(p, 20000)
    target_pred, _ = sample(q, 20000)
    shift = estimate_label_shift(val_pred, val_true, target_pred, 3)
    np.testing.assert_allclose(shift["estimated_target_priors"], q, atol=0.02)
    np.testing.assert_allclose(shift["source_priors"], p, atol=0.02)
    np.testing.assert_allclose(np.multiply(shift["weights"], shift["source_priors"]), shift["estimated_target_priors"])
    none = estimate_label_shift(val_pred, val_true, sample(p, 20000)[0], 3)  # no shift: weights ~ 1
    np.testing.assert_allclose(none["weights"], 1.0, atol=0.1)


def test_bbse_run_shifts_only_the_classifier_bias(source_only_run, tmp_path):
    _, source, target, run = source_only_run("transformers")
    metrics = run_config(_da(tmp_path / "bbse", run / "model", source, target, "bbse"))
    shift = metrics["label_shift"]
    for key in ("source_priors", "estimated_target_priors", "true_target_priors"):
        assert sum(shift[key]) == pytest.approx(1.0) and len(shift[key]) == 3
    before, after = _model_weights(run), _model_weights(tmp_path / "bbse")
    bias = "classifier.1.bias"
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed <= {bias}
    assert sum(shift["trained_prior"]) == pytest.approx(1.0)  # unweighted loss: the train label frequencies
    correction = np.asarray(shift["estimated_target_priors"]) / np.asarray(shift["trained_prior"])
    np.testing.assert_allclose(shift["correction"], correction)
    expected = before[bias] + torch.log(torch.tensor(correction, dtype=torch.float).clamp(min=1e-6))
    torch.testing.assert_close(after[bias], expected)


def _gaussian_posteriors(sampled_from, scored_with, n, rng, means=(-2.0, 0.0, 2.0)):
    """n samples of a 1-D three-Gaussian mixture with class priors `sampled_from`, and their exact
    posteriors p(y|x) under the priors `scored_with` (calibrated for a source with those priors)."""
    y = rng.choice(3, size=n, p=sampled_from)
    x = rng.normal(np.take(means, y), 1.0)
    post = np.exp(-0.5 * (x[:, None] - np.asarray(means)[None]) ** 2) * scored_with
    return post / post.sum(1, keepdims=True)


def test_mlls_em_recovers_known_priors_from_calibrated_posteriors():
    rng = np.random.default_rng(0)
    p, q = np.array([0.6, 0.25, 0.15]), np.array([0.05, 0.85, 0.10])
    estimate, iterations = estimate_priors_em(_gaussian_posteriors(q, p, 20000, rng), p)
    np.testing.assert_allclose(estimate, q, atol=0.02)
    assert 1 < iterations < 1000
    same, _ = estimate_priors_em(_gaussian_posteriors(p, p, 20000, rng), p)  # no shift: the source priors
    np.testing.assert_allclose(same, p, atol=0.02)


def test_calibration_recovers_a_known_temperature_and_bias():
    torch.manual_seed(0)
    true_logits = torch.randn(20000, 3) * 2
    labels = torch.distributions.Categorical(logits=true_logits + torch.tensor([0.5, 0.0, -0.5])).sample()
    temperature, bias = fit_scaling(true_logits * 3.0, labels, class_bias=True, max_iter=200, dtype=torch.float32)  # 3x, biased
    assert temperature == pytest.approx(3.0, rel=0.05)
    torch.testing.assert_close(bias - bias.mean(), torch.tensor([0.5, 0.0, -0.5]), atol=0.06, rtol=0)


def test_mlls_run_changes_only_the_classifier_by_the_recorded_calibration_and_shift(source_only_run, tmp_path):
    _, source, target, run = source_only_run("transformers")
    shift = run_config(_da(tmp_path / "mlls", run / "model", source, target, "mlls"))["label_shift"]
    assert shift["method"] == "mlls" and min(shift["estimated_target_priors"]) > 0
    for key in ("source_priors", "estimated_target_priors", "true_target_priors"):
        assert sum(shift[key]) == pytest.approx(1.0) and len(shift[key]) == 3
    before, after = _model_weights(run), _model_weights(tmp_path / "mlls")
    weight, bias = "classifier.1.weight", "classifier.1.bias"
    assert {k for k in before if not torch.equal(before[k], after[k])} <= {weight, bias}
    t = shift["temperature"]
    torch.testing.assert_close(after[weight], before[weight] / t)
    log_w = torch.log(torch.tensor(shift["weights"], dtype=torch.float))
    torch.testing.assert_close(after[bias], before[bias] / t + torch.tensor(shift["calibration_bias"]) + log_w)


def test_mlls_with_given_target_priors_shifts_by_them_and_a_wrong_length_names_the_field(source_only_run, tmp_path):
    _, source, target, run = source_only_run("transformers")
    given = [2.0, 1.0, 1.0]
    cfg = _da(tmp_path / "known", run / "model", source, target, "mlls",
              strategy={"name": "mlls", "mlls": {"target_priors": given}})
    shift = run_config(cfg)["label_shift"]
    assert shift["priors_given"] and shift["em_iterations"] == 0
    np.testing.assert_allclose(shift["estimated_target_priors"], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(shift["weights"], np.array([0.5, 0.25, 0.25]) / np.array(shift["source_priors"]))
    bad = _da(tmp_path / "bad", run / "model", source, target, "mlls", strategy={"name": "mlls", "mlls": {"target_priors": [1, 1]}})
    with pytest.raises(UserError, match=r"strategy\.mlls\.target_priors: 2 numbers for 3 classes"):
        run_config(bad)
    with pytest.raises(UserError, match=r"strategy\.mlls\.target_priors"):
        _da(tmp_path / "neg", run / "model", source, target, "mlls", strategy={"name": "mlls", "mlls": {"target_priors": [1, -1, 1]}})


def test_expected_macro_f1_is_sklearns_on_certain_labels_and_the_offsets_raise_it():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    truth, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    assert expected_macro_f1(np.eye(3)[truth], pred) == pytest.approx(f1_score(truth, pred, average="macro"))
    # a rare class whose posteriors never win the argmax: re-weighting it is worth macro-F1
    probs = _gaussian_posteriors(np.array([0.05, 0.85, 0.10]), np.array([0.05, 0.85, 0.10]), 5000, rng)
    argmax = expected_macro_f1(probs, probs.argmax(1))
    offsets = macro_f1_offsets(probs)
    tuned = expected_macro_f1(probs, (np.log(probs) + offsets).argmax(1))
    assert tuned > argmax + 0.01
    labels = np.array([rng.choice(3, p=row) for row in probs])  # what the expectation stands for
    assert f1_score(labels, (np.log(probs) + offsets).argmax(1), average="macro") > \
        f1_score(labels, probs.argmax(1), average="macro")


def test_bbse_corrects_from_the_prior_the_model_was_trained_to():
    """Balanced class weights train the model to a uniform prior, whatever the label counts."""
    from types import SimpleNamespace

    from hf_transfer.runs.posthoc_run import trained_prior

    splits = SimpleNamespace(label_names=["a", "b", "c"], train={"label": [0] * 6 + [1] * 3 + [2]})
    plain = SimpleNamespace(train=TrainConfig(class_weights=None))
    np.testing.assert_allclose(trained_prior(splits, plain), [0.6, 0.3, 0.1])
    auto = SimpleNamespace(train=TrainConfig())  # the default, 'auto': 6 / 1 is imbalanced, so balanced
    np.testing.assert_allclose(trained_prior(splits, auto), [1 / 3] * 3)
    np.testing.assert_allclose(trained_prior(splits, SimpleNamespace(train=TrainConfig(class_weights="balanced"))),
                               [1 / 3] * 3)
    np.testing.assert_allclose(trained_prior(splits, SimpleNamespace(train=TrainConfig(class_weights=[1, 2, 6]))),
                               np.array([6, 6, 6]) / 18)


def test_joint_batch_control_trains_like_source_only_on_the_joint_batch(source_only_run, tmp_path):
    model, source, target, run = source_only_run("timm")
    metrics = run_config(_da(tmp_path / "joint", model, source, target, "source_only_joint"))
    assert metrics["history"][-1]["train_terms"] == {}  # no transfer loss
    assert not all(torch.equal(a, b) for a, b in zip(_model_weights(run).values(),
                                                     _model_weights(tmp_path / "joint").values()))
