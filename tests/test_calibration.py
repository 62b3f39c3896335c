"""Calibration, selective prediction and OOD scores: each number against a hand computation, the temperature
against a known one, and a run's saved model, which carries its temperature wherever it is loaded."""

import math

import numpy as np
import pytest
import torch
from helpers import tiny_config

from hf_transfer import calibration

LOGITS = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.4], [0.0, 0.0, 3.0]])
LABELS = np.array([0, 2, 0, 2])


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_ece_nll_and_brier_against_a_hand_computation():
    p = _softmax(LOGITS)
    confidence = p.max(1)  # 0.7870, 0.5761, 0.3775, 0.9094; correct: yes, no, yes, yes
    correct = np.array([1.0, 0.0, 1.0, 1.0])
    # equal width (15 bins): every row alone in its bin
    width = np.abs(correct - confidence).mean()
    assert calibration.ece_equal_width(p, LABELS) == pytest.approx(width, abs=1e-6)
    # equal mass, 2 bins of 2 rows sorted by confidence: (0.3775, 0.5761) then (0.7870, 0.9094)
    mass = 0.5 * abs(0.5 - (confidence[2] + confidence[1]) / 2) + 0.5 * abs(1.0 - (confidence[0] + confidence[3]) / 2)
    assert calibration.ece_equal_mass(p, LABELS, bins=2) == pytest.approx(mass, abs=1e-9)
    nll = -np.mean(np.log(p[np.arange(4), LABELS]))
    assert calibration.nll(LOGITS, LABELS) == pytest.approx(nll, abs=1e-9)
    brier = np.mean([((p[i] - np.eye(3)[LABELS[i]]) ** 2).sum() for i in range(4)])
    assert calibration.brier(p, LABELS) == pytest.approx(brier, abs=1e-9)
    # the median top-class probability: between 0.5761 and 0.7870; zero logits say 1/3 for every row
    assert calibration.scores(LOGITS, LABELS)["median_confidence"] == pytest.approx((0.5761 + 0.7870) / 2, abs=1e-3)
    assert calibration.scores(np.zeros((4, 3)), LABELS)["median_confidence"] == pytest.approx(1 / 3)


def test_the_ece_floor_is_what_a_calibrated_model_shows_and_far_below_an_overconfident_one():
    rng = np.random.default_rng(0)
    p = _softmax(rng.normal(0, 2, size=(3000, 4)))
    calibrated = np.array([rng.choice(4, p=row) for row in p])  # each label drawn from the model's own probabilities
    floor = calibration.ece_floor(p)
    assert 0 < floor < 0.05 and abs(calibration.ece_equal_mass(p, calibrated) - floor) < 0.5 * floor
    sharp = _softmax(3 * np.log(p))  # the same argmax, overconfident
    assert calibration.ece_equal_mass(sharp, calibrated) > 5 * calibration.ece_floor(sharp)


def test_selective_accuracy_keeps_the_most_confident_rows():
    p = _softmax(LOGITS)  # by confidence: row 3 (right), 0 (right), 1 (wrong), 2 (right)
    assert calibration.accuracy_at_coverage(p, LABELS, 0.5) == 1.0
    assert calibration.accuracy_at_coverage(p, LABELS, 0.75) == pytest.approx(2 / 3)
    assert calibration.risk_coverage(p, LABELS, points=4)[-1] == [1.0, 0.75]


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_the_temperature_recovers_a_known_one(true_t):
    """Labels drawn from softmax(z / T): the fitted temperature is T, within 5 %."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, size=(20000, 5))
    labels = np.array([rng.choice(5, p=row) for row in _softmax(z / true_t)])
    assert calibration.fit_temperature(z, labels) == pytest.approx(true_t, rel=0.05)


def test_ood_auroc_tells_separated_sets_apart_and_not_identical_ones():
    rng = np.random.default_rng(0)
    source = rng.normal(0, 1, size=(300, 3)) + np.array([6.0, 0, 0])  # confident
    target = rng.normal(0, 1, size=(300, 3))  # unsure
    fit = rng.normal(0, 1, size=(200, 4))
    fit_labels = np.repeat([0, 1], 100)
    fit[fit_labels == 1] += 5
    near = rng.normal(0, 1, size=(300, 4)) + 5 * rng.integers(0, 2, size=(300, 1))  # near the two class means
    scores = calibration.ood_auroc(source, target, near, near + 20, fit, fit_labels)
    assert scores["msp"] > 0.99 and scores["energy"] > 0.99 and scores["mahalanobis"] == 1.0
    same = calibration.ood_auroc(source[:150], source[150:])
    assert abs(same["msp"] - 0.5) < 0.1 and "mahalanobis" not in same


@pytest.fixture(scope="module")
def calibrated_and_not(tmp_path_factory, tiny_timm, cifar_like):
    """The same run with and without temperature scaling (the same seed: the same training)."""
    from hf_transfer.runs.pipeline import run_config

    root = tmp_path_factory.mktemp("calibration")
    again = {"again": {"dataset": str(cifar_like), "split": "test"}}  # the test set a second time: nothing to tell apart
    return {c: (root / c, run_config(tiny_config(root / c, tiny_timm, cifar_like, train={"calibrate": c},
                                                 data={"extra_eval": again})))
            for c in ("none", "temperature")}


def test_temperature_scaling_changes_no_prediction_and_reports_before_and_after(calibrated_and_not):
    (_, plain), (_, scaled) = calibrated_and_not["none"], calibrated_and_not["temperature"]
    t = scaled["calibration"]["temperature"]
    assert t != 1.0 and scaled["calibration"]["fitted_on"] == "validation"
    assert plain["calibration"]["method"] == "none" and plain["calibration"]["temperature"] == 1.0
    for name in ("validation", "test"):
        assert scaled["final"][name]["confusion_matrix"] == plain["final"][name]["confusion_matrix"]
        assert scaled["final"][name]["accuracy"] == plain["final"][name]["accuracy"]
        sets = scaled["calibration"]["sets"][name]
        assert sets["before"] == plain["calibration"]["sets"][name]["after"]  # the same model before scaling
        assert scaled["final"][name]["loss"] == pytest.approx(sets["after"]["nll"])
    # T is the NLL minimiser on validation: no other temperature does better there
    assert scaled["calibration"]["sets"]["validation"]["after"]["nll"] <= \
        scaled["calibration"]["sets"]["validation"]["before"]["nll"] + 1e-9


def test_every_other_eval_set_gets_the_three_ood_scores(calibrated_and_not):
    """An extra eval set is scored against the in-domain test by MSP, energy and Mahalanobis; the same rows again
    cannot be told apart by any of them (AUROC exactly 0.5: every score ties)."""
    for _, metrics in calibrated_and_not.values():
        assert metrics["calibration"]["ood"] == {"again": {"msp": 0.5, "energy": 0.5, "mahalanobis": 0.5}}


def test_the_saved_model_carries_its_temperature_into_predict(calibrated_and_not, cifar_like):
    import datasets

    import hf_transfer

    (plain_dir, _), (scaled_dir, scaled) = calibrated_and_not["none"], calibrated_and_not["temperature"]
    t = scaled["calibration"]["temperature"]
    test = datasets.load_from_disk(str(cifar_like))["test"].rename_column("img", "image")
    plain = hf_transfer.load(plain_dir).log_probabilities(test)
    calibrated = hf_transfer.load(scaled_dir).log_probabilities(test)
    expected = torch.log_softmax(torch.as_tensor(plain) / t, -1).numpy()
    assert np.allclose(calibrated, expected, atol=1e-5)
    assert math.isclose(-calibrated[np.arange(len(test)), test["label"]].mean(), scaled["final"]["test"]["loss"],
                        rel_tol=1e-4)


def test_the_run_report_shows_the_calibration_table_and_figures_in_chromium(calibrated_and_not, tmp_path):
    from helpers import rendered_in_chromium

    run, metrics = calibrated_and_not["temperature"]
    report = (run / "report.md").read_text()
    test = metrics["calibration"]["sets"]["test"]
    assert f"T = {metrics['calibration']['temperature']:.3f}" in report
    assert (f"| test | {test['before']['median_confidence']:.3f} | {test['after']['median_confidence']:.3f} | "
            f"{test['before']['ece']:.4f} | {test['after']['ece']:.4f} |") in report
    assert "![reliability diagrams and risk-coverage curves](calibration.png)" in report
    probe = rendered_in_chromium(run / "report.html", tmp_path)
    assert probe["tables"] >= 3 and all(ok and w > 100 and h > 100 for ok, w, h in probe["images"])
    assert len(probe["images"]) == 2  # the training curves, the reliability diagrams and risk-coverage curves
