import pytest

from hf_transfer.metrics import ClassificationMetrics, classification_metrics


def test_scores_match_a_hand_computation():
    # refs:  0 0 1 1 2 ; preds: 0 1 1 1 0
    m = classification_metrics([0, 1, 1, 1, 0], [0, 0, 1, 1, 2], ["a", "b", "c"])
    assert m["num_samples"] == 5 and m["accuracy"] == pytest.approx(3 / 5)
    # class a: tp 1, fp 1, fn 1 -> f1 0.5; b: tp 2, fp 1, fn 0 -> 0.8; c: 0
    assert m["per_class_f1"] == pytest.approx({"a": 0.5, "b": 0.8, "c": 0.0})
    assert m["f1_macro"] == pytest.approx((0.5 + 0.8) / 3)
    assert m["f1_weighted"] == pytest.approx((0.5 * 2 + 0.8 * 2) / 5)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_unlabelled_references_are_not_scored():
    m = classification_metrics([0, 1, 2, 2], [0, 1, -1, -1], ["a", "b", "c"])
    assert m["num_samples"] == 2 and m["accuracy"] == 1.0


def test_is_an_evaluate_metric_with_batches():
    metric = ClassificationMetrics(keep_in_memory=True)
    metric.add_batch(predictions=[0, 1], references=[0, 1])
    metric.add_batch(predictions=[1], references=[0])
    assert metric.compute(num_classes=2)["accuracy"] == pytest.approx(2 / 3)
