"""The label-efficiency report: per method and count over seeds, paired against the best baseline, where the
methods cross; and the whole path, the recipe's runs on tiny data into `hf-transfer report`'s output."""

import json

import numpy as np
import pytest
from helpers import rendered_in_chromium
from scipy import stats

from hf_transfer.reports import label_efficiency_report as le

SEEDS = range(5)


def _runs(scores: dict) -> dict:
    """{(method, count): [macro-F1 per seed]} as the (metrics, config) pairs the report reads."""
    runs = {}
    for (method, count), values in scores.items():
        for seed, f1 in zip(SEEDS, values):
            m = {"strategy": method, "final": {"test": {"f1_macro": f1, "accuracy": f1 + 0.01}}}
            c = {"name": method, "data": {"eval_splits": ["test"], "labelled_per_class": None if count == "all" else count},
                 "train": {"seed": seed}}
            runs[f"{method}/{count}/{seed}"] = (m, c)
    return runs


NOISE = [0.01, -0.02, 0.0, 0.02, -0.01]
BASE8 = [0.50, 0.55, 0.60, 0.52, 0.58]
SCORES = {("frozen_logreg", 8): BASE8, ("tfidf_logreg", 8): [b - 0.10 for b in BASE8],
          ("setfit", 8): [b + 0.10 + e for b, e in zip(BASE8, NOISE)], ("full", 8): [b - 0.05 + e for b, e in zip(BASE8, NOISE)],
          ("frozen_logreg", 32): [0.70] * 5, ("tfidf_logreg", 32): [0.72 + e for e in NOISE],
          ("setfit", 32): [0.80 + e for e in NOISE], ("full", 32): [0.86 + 2 * e for e in NOISE],
          ("frozen_logreg", "all"): [0.9] * 5, ("full", "all"): [0.95] * 5}


def test_paired_intervals_against_the_best_baseline_at_each_count():
    table = le.curve_table(_runs(SCORES))
    rows = {(r["method"], r["count"]): r for r in table["rows"]}
    assert table["counts"] == [8, 32, "all"] and table["eval_set"] == "test"
    setfit8 = rows[("setfit", 8)]["versus"]
    assert setfit8["method"] == "frozen_logreg"  # the better baseline at 8
    d = np.array(NOISE) + 0.10
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert setfit8["f1_macro"]["mean"] == pytest.approx(0.10)
    assert (setfit8["f1_macro"]["low"], setfit8["f1_macro"]["high"]) == pytest.approx((0.10 - half, 0.10 + half))
    assert rows[("full", 32)]["versus"]["method"] == "tfidf_logreg"  # at 32, TF-IDF is the better baseline
    assert "versus" not in rows[("frozen_logreg", 8)] and rows[("tfidf_logreg", 8)]["versus"]["f1_macro"]["mean"] < 0
    assert rows[("setfit", 8)]["f1_macro"]["mean"] == pytest.approx(np.mean(SCORES[("setfit", 8)]))
    assert rows[("setfit", 8)]["f1_macro"]["std"] == pytest.approx(np.std(SCORES[("setfit", 8)], ddof=1))


def test_the_words_say_where_the_methods_cross_and_whether_the_best_is_told_apart():
    lines = le.curve_table(_runs(SCORES))["crossing"]
    assert lines[0].startswith("At 8 labels per class: **setfit** is best (8: 0.650, ahead of every other method "
                               "(closest: frozen_logreg, +0.100 [")
    assert lines[1].startswith("From 32 labels per class to every label: **full** is best (32: 0.860, ahead of every")
    assert lines[1].endswith("; all: 0.950, ahead of every other method (closest: frozen_logreg, +0.050 [+0.050, +0.050] "
                             "macro-F1))")
    tied = {**SCORES, ("setfit", 32): [0.86 + e for e in NOISE[::-1]]}
    assert "32: 0.860, not told apart from setfit (+0.000 [" in le.curve_table(_runs(tied))["crossing"][1]


def test_runs_without_few_labels_make_no_curve():
    assert le.curve_table(_runs({("full", "all"): [0.9] * 5})) is None


def test_the_recipe_runs_into_the_report(tmp_path, tiny_bert, text_like):
    from hf_transfer.config import apply_overrides
    from hf_transfer.launch import load_configs
    from hf_transfer.runs.sequence import run_configs

    configs, report_dir = load_configs("label_efficiency", [
        f"model.name={tiny_bert}", "model.pooling=mean", "data.max_length=16"], str(tmp_path / "le"), recipe_values={
        "preset": "tweets", "data": str(text_like), "methods": "tfidf_logreg,frozen_logreg,setfit", "counts": "2,4",
        "seeds": 2})
    configs = [apply_overrides(c, ["strategy.setfit.iterations=1", "strategy.setfit.batch_size=4"]) for c in configs]
    run_configs(configs, report_dir)
    report = json.loads((tmp_path / "le" / "report" / "report.json").read_text())["label_efficiency"]
    assert report["counts"] == [2, 4] and {len(r["seeds"]) for r in report["rows"]} == {2}
    setfit2 = next(r for r in report["rows"] if (r["method"], r["count"]) == ("setfit", 2))
    metrics = json.loads((tmp_path / "le" / "setfit" / "n2" / "seed1" / "metrics.json").read_text())
    assert setfit2["per_seed"][1]["f1_macro"] == metrics["final"]["test"]["f1_macro"] and metrics["train_samples"] == 6
    rows = {r["run"]: r for r in json.loads((tmp_path / "le" / "report" / "report.json").read_text())["rows"]}
    assert {"setfit (n2/seed0)", "setfit (n4/seed0)", "setfit (n2/seed1)", "setfit (n4/seed1)"} <= set(rows)  # no bare name
    md = (tmp_path / "le" / "report" / "report.md").read_text()
    assert "## Label efficiency (test set)" in md and "**Where the methods cross**" in md
    probe = rendered_in_chromium(tmp_path / "le" / "report" / "report.html", tmp_path)
    assert any(ok and w > 100 for ok, w, _ in probe["images"])



def test_each_run_is_measured_against_the_baseline_of_its_own_count_and_seed():
    from hf_transfer.reports.run_report import comparison

    runs = {}
    for (method, count), values in SCORES.items():
        for seed, f1 in zip(SEEDS, values):
            m = {"name": method, "strategy": method, "model": "m", "timings": {"total_seconds": 1}, "parameters": {"trainable": 1},
                 "final": {"test": {"f1_macro": f1, "accuracy": f1, "num_samples": 10}}}
            c = {"model": {"pretrained": True}, "data": {"dataset": "d", "labelled_per_class": None if count == "all" else count},
                 "train": {"seed": seed}}
            runs[f"{method} ({count}/{seed})"] = (m, c)
    rows = {r["run"]: r["eval"]["test"] for r in comparison(runs)["rows"]}
    assert rows["setfit (8/3)"]["gain_over"]["frozen_logreg"]["f1_macro"] == pytest.approx(0.10 + NOISE[3])
    assert rows["full (32/0)"]["gain_over"]["tfidf_logreg"]["f1_macro"] == pytest.approx(0.86 - 0.72 + NOISE[0])
    assert "tfidf_logreg" not in rows["full (all/1)"].get("gain_over", {})  # no TF-IDF run with every label: none, not another's
