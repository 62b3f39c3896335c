"""The domain-adaptation report: its numbers against each run's metrics.json, the model card's
table, and the self-contained HTML as headless Chromium renders it."""

import json

import pytest
from helpers import rendered_in_chromium

from hf_transfer.reports import run_report as report
from hf_transfer.runs.pipeline import run_config


@pytest.fixture(scope="module")
def adaptation_runs(tmp_path_factory, tiny_timm, cifar_like):
    from helpers import da_config, image_target

    root = tmp_path_factory.mktemp("da_runs")
    target = image_target(root / "target")
    runs = []
    for method, seeds in (("source_only", (0, 1)), ("dann", (0, 1)), ("oracle", (0,))):
        for seed in seeds:
            cfg = da_config(root / method / f"seed{seed}", tiny_timm, cifar_like, target, method=method, epochs=1,
                             seed=seed)
            cfg.name = method
            run_config(cfg)
            runs.append(root / method / f"seed{seed}")
    out = root / "report"
    report.compare(runs, out, update_cards=True)
    return runs, out


def _metrics(run):
    return json.loads((run / "metrics.json").read_text())


def test_report_numbers_match_metrics_json(adaptation_runs):
    runs, out = adaptation_runs
    table = json.loads((out / "report.json").read_text())["adaptation"][0]
    rows = {r["method"]: r for r in table["rows"]}
    assert list(rows) == ["source_only", "dann", "oracle"]
    per_method = {m: [_metrics(r) for r in runs if r.parent.name == m] for m in rows}
    for method, ms in per_method.items():
        target = [m["final"]["target"]["accuracy"] for m in ms]
        source = [m["final"]["test"]["f1_macro"] for m in ms]
        assert rows[method]["target_accuracy"]["mean"] == pytest.approx(sum(target) / len(target))
        assert rows[method]["source_f1_macro"]["mean"] == pytest.approx(sum(source) / len(source))
        assert rows[method]["target_accuracy"]["n"] == len(ms)
    floor = rows["source_only"]["target_accuracy"]["mean"]
    ceiling = rows["oracle"]["target_accuracy"]["mean"]
    dann = rows["dann"]
    assert dann["gain_accuracy"] == pytest.approx(dann["target_accuracy"]["mean"] - floor)
    if abs(ceiling - floor) > 1e-9:
        assert dann["gap_closed"] == pytest.approx(dann["gain_accuracy"] / (ceiling - floor))
    gap = [m["final"]["test"]["accuracy"] - m["final"]["target"]["accuracy"] for m in per_method["dann"]]
    assert dann["gap"]["mean"] == pytest.approx(sum(gap) / len(gap))
    md = (out / "report.md").read_text()
    assert f"{dann['target_accuracy']['mean']:.4f} ± {dann['target_accuracy']['std']:.4f}" in md
    for name in ("curves", "per_class_f1", "confusion", "embedding"):
        assert f"adaptation_{name}.png" in md and (out / f"adaptation_{name}.png").stat().st_size > 1000


def test_calibration_under_the_shift_and_ood_scores_match_metrics_json(adaptation_runs):
    """The report's calibration-and-OOD rows are the seeds' own numbers: ECE on both domains before and after
    the temperature, and the AUROC of telling target rows from source rows by MSP, energy and Mahalanobis."""
    runs, out = adaptation_runs
    md = (out / "report.md").read_text()
    dann = [_metrics(r) for r in runs if r.parent.name == "dann"]
    row = next(line for line in md.splitlines() if line.startswith("| dann |") and "AUROC" not in line
               and line.count("±") == 7)
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    expected = [[m["calibration"]["sets"]["test"]["before"]["ece"] for m in dann],
                [m["calibration"]["sets"]["target"]["after"]["ece"] for m in dann],
                [m["calibration"]["ood"]["target"]["mahalanobis"] for m in dann]]
    for cell, values in zip((cells[0], cells[3], cells[6]), expected):
        assert float(cell.split(" ± ")[0]) == pytest.approx(sum(values) / len(values), abs=5e-5)
    for m in dann:
        ood = m["calibration"]["ood"]["target"]
        assert set(ood) == {"msp", "energy", "mahalanobis"} and all(0 <= v <= 1 for v in ood.values())


def test_paired_confidence_intervals_recomputed_from_metrics_json(adaptation_runs):
    from scipy import stats

    runs, out = adaptation_runs
    table = json.loads((out / "report.json").read_text())["adaptation"][0]
    paired = next(r for r in table["rows"] if r["method"] == "dann")["paired"]
    assert paired["seeds"] == [0, 1]
    for metric in ("accuracy", "f1_macro"):
        by_seed = {(r.parent.name, int(r.name[4:])): _metrics(r)["final"]["target"][metric] for r in runs}
        diffs = [by_seed[("dann", s)] - by_seed[("source_only", s)] for s in (0, 1)]
        mean = sum(diffs) / 2
        half = stats.t.ppf(0.975, 1) * abs(diffs[0] - diffs[1]) / 2 ** 0.5 / 2 ** 0.5  # std of two: |a-b|/sqrt(2)
        assert paired[f"gain_{metric}"]["mean"] == pytest.approx(mean)
        assert paired[f"gain_{metric}"]["low"] == pytest.approx(mean - half)
        assert paired[f"gain_{metric}"]["high"] == pytest.approx(mean + half)
    by_seed = {(r.parent.name, int(r.name[4:])): _metrics(r)["final"]["target"]["accuracy"] for r in runs}
    diffs = [by_seed[("dann", s)] - by_seed[("source_only", s)] for s in (0, 1)]
    span = by_seed[("oracle", 0)] - by_seed[("source_only", 0)]
    if abs(span) > 1e-9:  # one oracle seed: one paired share, so no interval
        assert paired["gap_closed"] == {"mean": pytest.approx(diffs[0] / span), "low": None, "high": None, "n": 1}
        assert paired["small_gap_seeds"] == ([0] if span < 0.05 else [])
    assert paired["verdict"] in (out / "report.md").read_text()


def test_the_gain_is_bootstrapped_over_the_target_rows_from_each_runs_predictions(adaptation_runs):
    """predictions.npz holds every target row's predicted class and label; the gain's row bootstrap pairs the two
    runs of each seed row by row, and its mean is the metrics.json gain."""
    import numpy as np

    runs, out = adaptation_runs
    saved = {(r.parent.name, int(r.name[4:])): np.load(r / "predictions.npz") for r in runs}
    for (method, seed), arrays in saved.items():
        target = _metrics(runs[0].parent.parent / method / f"seed{seed}")["final"]["target"]
        assert np.mean(arrays["target"] == arrays["target.labels"]) == pytest.approx(target["accuracy"])
    assert all((a["target.labels"] == saved[("source_only", 0)]["target.labels"]).all() for a in saved.values())
    table = json.loads((out / "report.json").read_text())["adaptation"][0]
    rows = next(r for r in table["rows"] if r["method"] == "dann")["paired"]["gain_accuracy_rows"]
    gains = [np.mean(saved[("dann", s)]["target"] == saved[("dann", s)]["target.labels"])
             - np.mean(saved[("source_only", s)]["target"] == saved[("source_only", s)]["target.labels"]) for s in (0, 1)]
    assert rows["mean"] == pytest.approx(np.mean(gains)) and rows["n"] == 2 and rows["rows"] == len(saved[("dann", 0)]["target"])
    assert rows["low"] <= rows["mean"] <= rows["high"]
    assert "with the test rows resampled instead of the seeds" in (out / "report.md").read_text()


def test_row_bootstrap_of_identical_models_is_zero_and_of_a_fixed_lead_is_that_lead():
    import numpy as np

    from hf_transfer.intervals import row_bootstrap

    rng = np.random.default_rng(0)
    a = rng.random(400) < 0.7
    assert row_bootstrap([(a, a)]) == {"mean": 0.0, "low": 0.0, "high": 0.0, "n": 1, "rows": 400, "draws": 2000}
    better = a | (rng.random(400) < 0.5)  # right wherever a is, and on about half of the rest
    r = row_bootstrap([(better, a), (better, a)])
    lead = float(np.mean(better) - np.mean(a))
    assert r["mean"] == pytest.approx(lead) and 0 < r["low"] < lead < r["high"]
    assert row_bootstrap([(a, a[:10])]) is None  # rows that do not pair: no interval


def test_verdicts_say_what_the_interval_says():
    from hf_transfer.reports.adaptation_stats import paired_gain

    def row(name, accs, seeds=(0, 1, 2)):
        return {"method": name, "seeds": list(seeds), "per_run": [{"target_accuracy": a, "target_f1_macro": a} for a in accs]}

    floor, ceiling = row("source_only", [0.40, 0.50, 0.60]), row("oracle", [0.90, 0.90, 0.90])
    clear = paired_gain(row("mcc", [0.66, 0.70, 0.76]), floor, ceiling)
    assert clear["verdict"].startswith("better than source_only: +0.207 [+0.") and \
        clear["verdict"].endswith("%] of the gap to oracle")
    assert clear["gain_accuracy"]["low"] > 0
    noisy = paired_gain(row("dann", [0.60, 0.40, 0.62]), floor, ceiling)
    assert noisy["verdict"] == "not distinguishable from source_only (3 seeds)"
    worse = paired_gain(row("cdan", [0.30, 0.41, 0.50]), floor, None)
    assert worse["verdict"].startswith("worse than source_only: -0.097 [-0.")
    assert paired_gain(row("mmd", [0.7], seeds=(0,)), floor, ceiling)["verdict"] == "1 paired seed(s): no interval"
    # more accurate by predicting the majority class: the verdict says what macro-F1 and the collapse say
    shifted = row("mlls", [0.66, 0.70, 0.76])
    for run, collapsed in zip(shifted["per_run"], (True, False, True)):
        run.update(target_f1_macro=run["target_accuracy"] - 0.5, target_collapsed=collapsed)
    verdict = paired_gain(shifted, floor, None)["verdict"]
    assert verdict.startswith("better than source_only: +0.207") and ", but macro-F1 -0.293 [" in verdict
    assert verdict.endswith("; collapsed to one class on 2 of 3 seeds")


def _accs(name, accs):
    return {"method": name, "seeds": list(range(len(accs))), "runs": [str(i) for i in range(len(accs))],
            "per_run": [{"target_accuracy": a, "target_f1_macro": a} for a in accs]}


def test_gap_closed_is_the_ratio_of_mean_gains_and_one_tiny_gap_cannot_flip_the_verdict():
    """Four seeds gain +0.2 of a 0.5 gap; on the fifth source_only is 0.998 against an oracle of 1.0 and the method
    loses 0.01 (a per-seed share of -500 %). The gain's interval is above 0, so the verdict says better; the gap
    closed is the mean gain over the mean gap (near 40 %, not the mean of shares, -68 %); the seed is named."""
    from hf_transfer.reports.adaptation_stats import gap_closed, paired_gain

    floor, ceiling = _accs("source_only", [0.5] * 4 + [0.998]), _accs("oracle", [1.0] * 5)
    paired = paired_gain(_accs("dann", [0.7] * 4 + [0.988]), floor, ceiling)
    assert paired["gain_accuracy"]["mean"] == pytest.approx(0.158) and paired["gain_accuracy"]["low"] > 0
    share = paired["gap_closed"]
    assert share["mean"] == pytest.approx(0.158 / (2.002 / 5)) and share["low"] < share["mean"] < share["high"] < 0.41
    assert paired["small_gap_seeds"] == [4]
    v = paired["verdict"]
    assert v.startswith("better than source_only: +0.158 [+0.") and "+39% [" in v and v.endswith(
        "; seed 4: source_only within 0.05 of oracle, little gap to close")
    # the bootstrap resamples seeds with their pairs: equal shares on every seed give a zero-width interval
    same = gap_closed([0.1, 0.2, 0.3], [0.2, 0.4, 0.6])
    assert same["mean"] == pytest.approx(0.5) and same["low"] == pytest.approx(0.5) and same["high"] == pytest.approx(0.5)
    assert gap_closed([0.1], [0.0]) is None


def test_the_table_prints_the_estimate_its_interval_is_for():
    from hf_transfer.reports.adaptation_report import markdown_table
    from hf_transfer.reports.adaptation_stats import paired_gain

    floor, ceiling, st = _accs("source_only", [0.2, 0.6, 0.6]), _accs("oracle", [1.0, 1.0, 1.0]), _accs("st", [0.8] * 3)
    st["paired"] = paired_gain(st, floor, ceiling)
    assert st["paired"]["gap_closed"]["mean"] == pytest.approx((0.6 + 0.2 + 0.2) / (0.8 + 0.4 + 0.4))
    for r in (floor, ceiling, st):
        for k in ("source_accuracy", "source_f1_macro", "target_accuracy", "target_f1_macro", "gap", "a_distance"):
            r[k] = {"mean": 0.5, "std": 0.0, "n": 3}
    for r in (floor, ceiling):
        r.update(gain_accuracy=None, gain_f1_macro=None, gap_closed=None)
    st.update(gain_accuracy=0.8 - 1.4 / 3, gain_f1_macro=0.0, gap_closed=None)
    line = next(x for x in markdown_table({"rows": [floor, st, ceiling]}) if x.startswith("| st |"))
    share = st["paired"]["gap_closed"]
    assert f"{100 * share['mean']:+.0f}% [{100 * share['low']:+.0f}%, {100 * share['high']:+.0f}%]" in line


def test_model_cards_carry_the_table(adaptation_runs):
    runs, out = adaptation_runs
    table = json.loads((out / "report.json").read_text())["adaptation"][0]
    card = (runs[2] / "model" / "README.md").read_text()  # a dann run
    assert "This model is the `dann` row" in card
    for row in table["rows"]:
        assert f"| {row['method']} | {row['reads_target_labels']} | {len(row['runs'])} | " in card
    read = {row["method"]: row["reads_target_labels"] for row in table["rows"]}
    assert read == {"source_only": "no", "dann": "no", "oracle": "training: every labelled target train sample"}
    assert json.loads((runs[2] / "adaptation.json").read_text()) == table


def test_html_renders_in_headless_chromium(adaptation_runs, tmp_path):
    _, out = adaptation_runs
    probe = rendered_in_chromium(out / "report.html", tmp_path)
    assert probe["tables"] >= 2 and probe["cells"] > 20
    assert len(probe["images"]) >= 5 and all(ok and w > 100 and h > 100 for ok, w, h in probe["images"])


def test_budget_curve_is_the_per_epoch_mean_over_seeds_and_names_methods_still_rising():
    from hf_transfer.reports.adaptation_report import curve_lines
    from hf_transfer.reports.adaptation_stats import target_curve

    def run(accuracies):
        return {"domains": {"source": "test", "target": "target"},
                "history": [{"epoch": e, "step": 10 * e, "eval": {"target": {"accuracy": a}}}
                            for e, a in enumerate(accuracies, 1)]}

    curve = target_curve([run([0.2, 0.5, 0.7]), run([0.4, 0.5, 0.9])])
    assert [p["epoch"] for p in curve] == [1, 2, 3] and [p["step"] for p in curve] == [10, 20, 30]
    assert [p["accuracy"]["mean"] for p in curve] == pytest.approx([0.3, 0.5, 0.8])
    assert curve[2]["accuracy"]["std"] == pytest.approx(0.1414, abs=1e-4)
    assert target_curve([{"history": [{"epoch": 1}]}]) == []  # no training loop (adabn, bbse): no curve
    flat = target_curve([run([0.5, 0.6, 0.6])])
    lines = curve_lines({"rows": [{"method": "mcc", "target_curve": curve}, {"method": "dann", "target_curve": flat}]})
    assert "| mcc | 0.300 ± 0.141 (10) | 0.500 ± 0.000 (20) | 0.800 ± 0.141 (30) |" in lines
    assert "Still rising at the last epoch: mcc (more steps may pay off)." in lines
    assert lines[0].startswith("Target test accuracy (read with the target test labels")
    # with target validation rows (data.target.validation_samples) the curve is drawn from them, and says so
    dev = run([0.2, 0.5, 0.7])
    dev["final"] = {"target_validation": {}}
    for h, a in zip(dev["history"], (0.1, 0.3, 0.2)):
        h["eval"]["target_validation"] = {"accuracy": a}
    on_dev = target_curve([dev])
    assert [p["accuracy"]["mean"] for p in on_dev] == [0.1, 0.3, 0.2] and {p["on"] for p in on_dev} == {"target_validation"}
    assert curve_lines({"rows": [{"method": "mcc", "target_curve": on_dev}]})[0].startswith("Target validation accuracy")


def test_selection_check_pairs_last_epochs_not_selected_ones():
    from hf_transfer.reports.adaptation_report import selection_lines
    from hf_transfer.reports.adaptation_stats import adaptation_table

    def metrics(name, curve, selected):
        score = lambda a: {"accuracy": a, "f1_macro": a - 0.1, "per_class_f1": {"a": a}}  # noqa: E731
        history = [{"epoch": e, "step": e, "eval": {"test": score(0.9), "target": score(a)}} for e, a in enumerate(curve, 1)]
        return {"name": name, "domains": {"source": "test", "target": "target"}, "label_names": ["a"], "strategy": name,
                "model": "m", "warnings": [], "selected_epoch": selected, "history": history,
                "final": {"test": score(0.9), "target": score(curve[selected - 1])}}

    curves = {"source_only": ([0.5, 0.6, 0.4], [0.5, 0.7, 0.6]), "dann": ([0.6, 0.7, 0.9], [0.6, 0.8, 0.85]),
              "oracle": ([0.9, 1.0, 1.0], [0.95, 0.99, 1.0])}
    runs = {f"{m}{s}": (metrics(m, c[s], 2), {"data": {"dataset": "s", "target": {"dataset": "t"}}, "train": {"seed": s}})
            for m, c in curves.items() for s in (0, 1)}
    rows = {r["method"]: r for r in adaptation_table(runs)[0]["rows"]}
    dann = rows["dann"]["last_epoch"]
    assert dann["selected_epochs"] == [2, 2] and dann["last_epochs"] == [3, 3]
    assert dann["target_accuracy"]["mean"] == pytest.approx(0.875)
    assert dann["paired"]["gain_accuracy"]["mean"] == pytest.approx(((0.9 - 0.4) + (0.85 - 0.6)) / 2)
    assert dann["paired"]["gap_closed"]["mean"] == pytest.approx((0.5 + 0.25) / (0.6 + 0.4))  # mean gain / mean gap
    assert rows["dann"]["paired"]["gain_accuracy"]["mean"] == pytest.approx(((0.7 - 0.6) + (0.8 - 0.7)) / 2)  # selected
    assert rows["source_only"]["last_epoch"]["paired"] is None
    lines = selection_lines({"rows": list(rows.values())})
    assert any(line.startswith("| dann | 2 2 of 3 | 0.750 ± 0.071 | 0.875 ± 0.035 | +0.3750 [") for line in lines)
