"""Beyond one class per row: multi-label and regression end to end (detected from the data, trained, saved with
what they need, reloaded by hf-transfer and by plain transformers / timm, evaluated, predicted), a fourth task
registered from this file, every strategy on every task (or a one-line refusal naming the task), and the bad
inputs of each task."""

from __future__ import annotations

import json
import math

import datasets
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import WORDS, cli, images, one_error_line, tiny_config

from hf_transfer.errors import ConfigError, UserError
from hf_transfer.runs.pipeline import run_config

TAGS = {0: "happy", 1: "sad", 2: "colour"}  # a row's tags: the word groups its words come from


def tagged_rows(n: int, seed: int, empty_every: int = 0):
    """Texts of words from 1-2 groups of WORDS, tagged with those groups' names joined by ';' (every
    `empty_every`-th row: words from no group, no tags)."""
    rng = np.random.default_rng(seed)
    texts, tags = [], []
    for i in range(n):
        groups = [] if empty_every and i % empty_every == 0 else \
            sorted(rng.choice(3, size=int(rng.integers(1, 3)), replace=False).tolist())
        words = [w for g in groups for w in rng.choice(WORDS[g], size=3)] or ["unknownword"] * 3
        texts.append(" ".join(rng.permutation(words)))
        tags.append(";".join(TAGS[g] for g in groups))
    return texts, tags


def scored_rows(n: int, seed: int):
    """Texts whose target is 1.5 per 'good' group word minus 0.5 per 'bad' one, plus noise (not whole numbers)."""
    rng = np.random.default_rng(seed)
    texts, scores = [], []
    for _ in range(n):
        good, bad = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        words = list(rng.choice(WORDS[0], size=good)) + list(rng.choice(WORDS[1], size=bad)) + ["red"]
        texts.append(" ".join(rng.permutation(words)))
        scores.append(round(1.5 * good - 0.5 * bad + float(rng.normal(0, 0.1)), 3))
    return texts, scores


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagged")
    for split, n, seed in (("train", 120, 0), ("test", 40, 1)):
        texts, tags = tagged_rows(n, seed, empty_every=10)
        pd.DataFrame({"text": texts, "tags": tags}).to_csv(folder / f"{split}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scored")
    for split, n, seed in (("train", 120, 0), ("test", 40, 1)):
        texts, scores = scored_rows(n, seed)
        pd.DataFrame({"text": texts, "score": scores}).to_csv(folder / f"{split}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory, tiny_bert, tagged):
    out = tmp_path_factory.mktemp("multi") / "run"
    metrics = run_config(tiny_config(out, tiny_bert, tagged, data={"label_column": "tags", "validation_size": 0.25},
                                     train={"epochs": 3, "batch_size": 16}))
    return out, metrics


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tiny_bert, scored):
    out = tmp_path_factory.mktemp("regression") / "run"
    metrics = run_config(tiny_config(out, tiny_bert, scored, data={"label_column": "score", "validation_size": 0.25},
                                     train={"epochs": 3, "batch_size": 16}))
    return out, metrics


# -- multi-label -------------------------------------------------------------------------------------

def test_a_column_of_joined_tags_trains_a_multi_label_model(multi_run):
    out, metrics = multi_run
    assert metrics["task"] == "multi_label" and metrics["label_names"] == sorted(TAGS.values())
    test = metrics["final"]["test"]
    for key in ("f1_micro", "f1_macro", "f1_samples", "map", "subset_accuracy", "hamming_loss", "loss"):
        assert 0 <= test[key] <= (1 if key != "loss" else 10), key
    assert set(test["per_label"]) == set(TAGS.values()) and all(
        set(v) == {"f1", "precision", "recall", "support"} for v in test["per_label"].values())
    assert sum(v["support"] for v in test["per_label"].values()) == sum(len(t.split(";")) for t in
                                                                       tagged_rows(40, 1, empty_every=10)[1] if t)
    calibration = metrics["calibration"]
    assert calibration["thresholds_chosen_on"] == "validation" and set(calibration["thresholds"]) == set(TAGS.values())
    saved = json.loads((out / "model" / "task.json").read_text())
    assert saved["task"] == "multi_label" and saved["thresholds"] == list(calibration["thresholds"].values())
    assert metrics["selected_by"].startswith("validation/f1_micro (")
    report = (out / "report.md").read_text()
    assert "| eval set | samples | micro-F1 | macro-F1 | samples-F1 | mAP |" in report and "## Per label (test)" in report
    card = (out / "model" / "README.md").read_text()
    assert "- type: map" in card and "A text multi-label classifier" in card


def test_multi_label_predictions_use_the_saved_thresholds(multi_run, tmp_path):
    import hf_transfer

    out, metrics = multi_run
    clf = hf_transfer.load(out)
    assert clf.task.name == "multi_label"
    rows = clf.predict(["good great red", "bad sad", "unknownword"])
    thresholds = metrics["calibration"]["thresholds"]
    for row in rows:
        assert set(row["probabilities"]) == set(TAGS.values())
        assert row["labels"] == [n for n, p in row["probabilities"].items() if p >= thresholds[n]]
    inputs = tmp_path / "in.txt"
    inputs.write_text("good great red\nbad sad\n")
    written = pd.read_csv(hf_transfer.predictor.predict_file(str(out), str(inputs), str(tmp_path / "p.csv")),
                          keep_default_na=False)
    assert list(written.columns) == ["text", "labels", *(f"p_{n}" for n in metrics["label_names"])]
    assert written["labels"].tolist() == [";".join(r["labels"]) for r in rows[:2]]


def test_a_multi_label_model_loads_in_plain_transformers_with_the_same_probabilities(multi_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    import hf_transfer

    out, _ = multi_run
    texts = ["good great red", "bad sad blue"]
    ours = hf_transfer.load(out).predict(texts)
    model = AutoModelForSequenceClassification.from_pretrained(out / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert model.config.problem_type == "multi_label_classification"
    with torch.no_grad():
        p = torch.sigmoid(model(**tokenizer(texts, padding=True, return_tensors="pt")).logits)
    names = [model.config.id2label[i] for i in range(p.shape[1])]
    for row, mine in zip(p, ours):
        assert max(abs(float(v) - mine["probabilities"][n]) for n, v in zip(names, row)) <= 1e-4
    piped = pipeline("text-classification", model=model, tokenizer=tokenizer, function_to_apply="sigmoid", top_k=None)
    for row, mine in zip(piped(texts), ours):
        assert max(abs(r["score"] - mine["probabilities"][r["label"]]) for r in row) <= 1e-4


def test_evaluate_scores_a_multi_label_model_and_refuses_an_unknown_tag(multi_run, tagged, tmp_path, capsys):
    out, metrics = multi_run
    result = cli(["evaluate", str(out), "--dataset", str(tagged), "-o", str(tmp_path / "eval")], capsys)
    assert result.returncode == 0, result.stderr
    scored = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert scored["task"] == "multi_label"
    assert next(iter(scored["final"].values()))["f1_micro"] == pytest.approx(metrics["final"]["test"]["f1_micro"], abs=1e-6)
    other = tmp_path / "other"
    other.mkdir()
    pd.DataFrame({"text": ["good red", "bad"], "tags": ["happy;weather", "sad"]}).to_csv(other / "test.csv", index=False)
    line = one_error_line(cli(["evaluate", str(out), "--dataset", str(other), "-o", str(tmp_path / "e2")], capsys))
    assert "labels the model does not know: weather" in line


def test_tag_columns_are_detected_and_bad_ones_refused(tmp_path, tiny_bert):
    from hf_transfer.config import DataConfig
    from hf_transfer.data.splits import build_splits

    rows = pd.DataFrame({"text": ["good", "bad", "red", "good red", "bad red", "good bad"] * 3,
                         "sports": [1, 0, 0, 1, 0, 1] * 3, "news": [0, 1, 1, 0, 1, 0] * 3})
    rows.to_csv(tmp_path / "cols.csv", index=False)
    splits = build_splits(DataConfig(dataset=str(tmp_path / "cols.csv"), label_columns=["sports", "news"],
                                     validation_size=0.2, eval_splits=[]), seed=0)
    assert splits.task.name == "multi_label" and splits.label_names == ["news", "sports"]
    rows.assign(news=[0, 2, 1, 0, 1, 0] * 3).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ConfigError, match="data.label_columns: column 'news' of train holds 2"):
        build_splits(DataConfig(dataset=str(tmp_path / "bad.csv"), label_columns=["sports", "news"], eval_splits=[]),
                     seed=0)
    mixed = pd.DataFrame({"text": ["a", "b", "c", "d"] * 3, "tags": ["x;y", "y|z", "x", "z;x"] * 3})
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(ConfigError, match="data.label_separator: the label column mixes separators"):
        build_splits(DataConfig(dataset=str(tmp_path / "mixed.csv"), label_column="tags", eval_splits=[]), seed=0)
    lists = datasets.Dataset.from_dict({"text": ["good", "bad", "red", "good red"] * 4,
                                        "labels": [["a"], ["b"], [], ["a", "b"]] * 4})
    lists.to_json(tmp_path / "lists.jsonl")
    splits = build_splits(DataConfig(dataset=str(tmp_path / "lists.jsonl"), validation_size=0.25, eval_splits=[]),
                          seed=0)
    assert splits.task.name == "multi_label" and splits.label_names == ["a", "b"]


def test_a_tag_never_positive_in_training_is_warned_about(tmp_path):
    from hf_transfer.config import DataConfig
    from hf_transfer.data.splits import build_splits

    pd.DataFrame({"text": ["good", "bad", "red", "blue"] * 4, "tags": ["a;b", "b", "a", ""] * 4}).to_csv(
        tmp_path / "train.csv", index=False)
    pd.DataFrame({"text": ["good", "bad"], "tags": ["a;c", "c"]}).to_csv(tmp_path / "test.csv", index=False)
    splits = build_splits(DataConfig(dataset=str(tmp_path), label_column="tags", validation_size=0.25), seed=0)
    assert splits.label_names == ["a", "b", "c"]
    assert any("labels never positive in the training rows, so never learned: c" in w for w in splits.warnings)


# -- regression --------------------------------------------------------------------------------------

def test_a_column_of_fractional_numbers_trains_a_regression_model(regression_run, scored):
    out, metrics = regression_run
    assert metrics["task"] == "regression" and metrics["label_names"] == ["score"]
    test = metrics["final"]["test"]
    for key in ("mae", "rmse", "r2", "spearman", "pearson", "interval_coverage"):
        assert math.isfinite(test[key]), key
    assert metrics["selected_by"].startswith("validation/neg_mae (")
    c = metrics["calibration"]
    assert c["method"] == "split_conformal" and c["coverage_asked"] == 0.9 and c["residuals"] == 30
    saved = json.loads((out / "model" / "task.json").read_text())
    assert saved["task"] == "regression" and len(saved["residuals"]) == 30
    train = pd.read_csv(scored / "train.csv")["score"]
    assert saved["mean"] == pytest.approx(train.mean(), rel=0.2) and saved["std"] > 0
    assert (out / "regression.png").is_file() and "| eval set | samples | MAE | RMSE | R² |" in (out / "report.md").read_text()


def test_a_saved_regression_model_predicts_in_the_targets_units_with_an_interval(regression_run, scored, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    import hf_transfer

    out, metrics = regression_run
    clf = hf_transfer.load(out)
    test = pd.read_csv(scored / "test.csv")
    rows = clf.predict(test["text"].tolist())
    values = np.array([r["value"] for r in rows])
    assert np.abs(values - test["score"]).mean() == pytest.approx(metrics["final"]["test"]["mae"], abs=1e-4)
    half = metrics["calibration"]["half_width"]
    assert all(r["interval"] == pytest.approx([r["value"] - half, r["value"] + half]) for r in rows)
    model = AutoModelForSequenceClassification.from_pretrained(out / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert model.config.problem_type == "regression" and model.config.num_labels == 1
    with torch.no_grad():
        plain = model(**tokenizer(test["text"].tolist()[:8], padding=True, return_tensors="pt")).logits[:, 0].numpy()
    assert np.abs(plain - values[:8]).max() <= 1e-4
    piped = pipeline("text-classification", model=model, tokenizer=tokenizer, function_to_apply="none")
    assert abs(piped(test["text"].tolist()[:1])[0]["score"] - values[0]) <= 1e-4
    written = pd.read_csv(hf_transfer.predictor.predict_file(str(out), str(scored / "test.csv"), str(tmp_path / "p.csv"),
                                                            coverage=0.5))
    assert {"score", "lower", "upper", "coverage"} <= set(written.columns) and (written["coverage"] == 0.5).all()
    assert (written["upper"] - written["lower"] <= 2 * half + 1e-9).all()


def test_split_conformal_intervals_cover_as_asked():
    from hf_transfer.tasks import get_task

    rng = np.random.default_rng(0)
    covered = []
    for _ in range(200):  # exchangeable residuals: the interval holds a new one with probability >= 0.9
        task = get_task("regression", {"residuals": np.abs(rng.normal(size=99)).tolist()})
        covered.append(abs(rng.normal()) <= task.half_width(0.9))
    assert abs(np.mean(covered) - 0.9) <= 0.05
    task = get_task("regression", {"residuals": [float(i) for i in range(1, 10)]})
    assert task.half_width(0.9) == 9.0 and task.half_width(0.5) == 5.0 and task.half_width(0.95) == math.inf


@pytest.mark.parametrize("value, why", [(float("nan"), "NaN or inf"), (float("inf"), "NaN or inf"),
                                        ("lots", "must be a number")])
def test_a_bad_regression_target_is_one_line(tmp_path, tiny_bert, capsys, value, why):
    scores = [0.5, 1.25, 2.5, 3.75] * 4
    scores[5] = value
    pd.DataFrame({"text": ["good", "bad", "red", "blue"] * 4, "score": scores}).to_csv(tmp_path / "d.csv", index=False)
    line = one_error_line(cli(["run", "--model", str(tiny_bert), "--dataset", str(tmp_path / "d.csv"),
                               "--label-column", "score", "--task", "regression", "--output-dir", str(tmp_path / "out")],
                              capsys))
    assert "data.label_column" in line and why in line
    assert not (tmp_path / "out").exists()


# -- a fourth task, from this file ------------------------------------------------------------------------

def test_a_task_registered_from_a_test_file_trains_saves_reloads_evaluates_and_predicts(tmp_path, tiny_bert, scored,
                                                                                     capsys):
    """A task is one file: this one predicts whether the score is above zero (one logit, a logistic loss)."""
    import hf_transfer
    from hf_transfer.tasks import TASKS, Task, register_task

    @register_task("above_zero")
    class AboveZero(Task):
        metric_for_best = "accuracy"
        best_metrics = ("accuracy", "loss")
        headline = (("accuracy", "accuracy", "acc"), ("loss", "loss", "loss"))
        table = (("accuracy", "accuracy"), ("loss", "loss"))

        def prepare(self, dd, data_cfg, column):
            return dd.cast_column("label", datasets.Value("float32")), ["above zero"]

        def loss(self, outputs, labels):
            return torch.nn.functional.binary_cross_entropy_with_logits(outputs.view(-1), (labels > 0).float())

        def scores(self, outputs, labels, names):
            z, y = np.asarray(outputs).reshape(-1), np.asarray(labels).reshape(-1) > 0
            return {"num_samples": len(y), "accuracy": float(((z > 0) == y).mean()),
                    "loss": float(np.mean(np.logaddexp(0, -np.where(y, z, -z))))}

        def predictions(self, outputs, names):
            return [{"above zero": bool(z > 0)} for z in np.asarray(outputs).reshape(-1)]

        def columns(self, outputs, names, top_k=3, **options):
            return {"above zero": np.asarray(outputs).reshape(-1) > 0}

    try:
        out = tmp_path / "run"
        metrics = run_config(tiny_config(out, tiny_bert, scored, task="above_zero", data={"label_column": "score"}))
        assert metrics["task"] == "above_zero" and "accuracy" in metrics["final"]["test"]
        assert json.loads((out / "model" / "task.json").read_text()) == {"task": "above_zero"}
        clf = hf_transfer.load(out)
        assert isinstance(clf.task, AboveZero) and set(clf.predict("good good great")[0]) == {"above zero"}
        result = cli(["evaluate", str(out), "--dataset", str(scored), "-o", str(tmp_path / "eval")], capsys)
        assert result.returncode == 0, result.stderr
        scored_again = next(iter(json.loads((tmp_path / "eval" / "metrics.json").read_text())["final"].values()))
        assert scored_again["accuracy"] == pytest.approx(metrics["final"]["test"]["accuracy"])
        assert cli(["predict", str(out), "--input", str(scored / "test.csv"), "-o", str(tmp_path / "p.csv")],
                   capsys).returncode == 0
        assert "above zero" in pd.read_csv(tmp_path / "p.csv").columns
    finally:
        TASKS.pop("above_zero")


# -- images ---------------------------------------------------------------------------------------------

def test_an_image_regression_model_loads_in_timm_with_our_values(tmp_path, tiny_timm):
    import timm

    import hf_transfer

    pixels, classes = images(12, 3, 32, seed=0)
    data = datasets.Dataset.from_dict({"image": [__import__("PIL.Image").Image.fromarray(p) for p in pixels],
                                       "target": [k * 1.5 + 0.25 for k in classes]})
    data = data.cast_column("image", datasets.Image()).train_test_split(test_size=0.25, seed=0)
    data.save_to_disk(tmp_path / "data")
    out = tmp_path / "run"
    metrics = run_config(tiny_config(out, tiny_timm, tmp_path / "data", data={"label_column": "target"}))
    assert metrics["task"] == "regression" and metrics["modality"] == "image"
    clf = hf_transfer.load(out)
    test = datasets.load_from_disk(str(tmp_path / "data"))["test"]
    values = np.array([r["value"] for r in clf.predict(list(test["image"]))])
    assert np.abs(values - np.asarray(test["target"])).mean() == pytest.approx(metrics["final"]["test"]["mae"], abs=1e-4)
    net = timm.create_model(f"local-dir:{out / 'model'}", pretrained=True).eval()
    pixels = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert (net(pixels) - clf.model.eval()({"pixel_values": pixels})).abs().max() <= 1e-4


# -- strategies x tasks -------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("task", ["multi_label", "regression"])
def test_every_strategy_runs_on_each_task_or_refuses_naming_it(task, tiny_bert, tagged, scored, tmp_path, multi_run,
                                                               regression_run):
    """Every loop strategy that needs no target domain, on text, for the task: it trains (distill from a model of the
    task); what the task cannot take is refused in one line naming it (a regression has no soft targets to mix)."""
    from hf_transfer.strategies import REGISTRY

    data, column, teacher = (tagged, "tags", multi_run[0]) if task == "multi_label" else \
        (scored, "score", regression_run[0])
    ran = []
    for name, cls in REGISTRY.items():
        if cls.run_kind != "loop" or cls.uses_target or cls.train_on != "source" or \
                getattr(cls, "modalities", ("text",)) == ("image",):
            continue
        strategy = {"name": name, "lora": {"r": 2}} if name == "lora" else {"name": name}
        if name == "distill":
            strategy["distill"] = {"teacher": str(teacher / "model")}
        if name == "augment" and task == "multi_label":
            strategy["augment"] = {"label_smoothing": 0.1}  # the tags' 0/1 targets softened towards 0.5
        cfg = tiny_config(tmp_path / name, tiny_bert, data, task=task, strategy=strategy,
                          data={"label_column": column}, train={"epochs": 1, "batch_size": 16})
        metrics = run_config(cfg)
        assert metrics["status"] == "finished" and metrics["task"] == task
        ran.append(name)
    assert {"full", "linear_probe", "partial", "gradual_unfreeze", "discriminative_lr", "l2sp", "lora", "head",
            "augment", "distill"} <= set(ran)
    soft = tiny_config(tmp_path / "soft", tiny_bert, data, task=task, data={"label_column": column},
                       strategy={"name": "augment", "augment": {"label_smoothing": 0.1}})
    if task == "regression":
        with pytest.raises(UserError, match="task regression"):
            run_config(soft)


def test_a_multi_label_image_model_mixes_its_tags_with_mixup(tmp_path, tiny_timm):
    """mixup and CutMix on tags: timm's dense-target mixing, the loss on the mixed 0/1 targets."""
    from PIL import Image

    pixels, classes = images(8, 3, 32, seed=0)
    tags = [["a"] if k == 0 else ["b"] if k == 1 else ["a", "b"] for k in classes]
    data = datasets.Dataset.from_dict({"image": [Image.fromarray(p) for p in pixels], "labels": tags})
    data.cast_column("image", datasets.Image()).train_test_split(test_size=0.25, seed=0).save_to_disk(tmp_path / "d")
    metrics = run_config(tiny_config(tmp_path / "run", tiny_timm, tmp_path / "d", train={"batch_size": 6},
                                     strategy={"name": "augment", "augment": {"mixup": 0.4, "cutmix": 1.0}}))
    assert metrics["task"] == "multi_label" and metrics["status"] == "finished"


# -- baselines, as each task's form ------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["multi_label", "regression"])
def test_the_baselines_fit_in_their_tasks_form_reload_and_sit_in_the_report(task, tiny_bert, tagged, scored, tmp_path,
                                                                           multi_run, regression_run, capsys):
    from hf_transfer.reports import run_report

    data, column, tuned = (tagged, "tags", multi_run[0]) if task == "multi_label" else (scored, "score", regression_run[0])
    runs = [tuned]
    for name, form in (("tfidf_logreg", "per label" if task == "multi_label" else "Ridge"),
                       ("frozen_logreg", "per label" if task == "multi_label" else "Ridge")):
        out = tmp_path / name
        metrics = run_config(tiny_config(out, tiny_bert, data, data={"label_column": column, "validation_size": 0.25},
                                         strategy={"name": name}))
        assert metrics["task"] == task and form in metrics["baseline"]["classifier"]
        result = cli(["evaluate", str(out), "--dataset", str(data), "-o", str(tmp_path / f"{name}_eval")], capsys)
        assert result.returncode == 0, result.stderr
        again = next(iter(json.loads((tmp_path / f"{name}_eval" / "metrics.json").read_text())["final"].values()))
        key = metrics_key = "f1_micro" if task == "multi_label" else "mae"
        assert again[key] == pytest.approx(metrics["final"]["test"][metrics_key], abs=1e-5), name
        runs.append(out)
    report = run_report.compare(runs, tmp_path / "report")
    second = "micro-F1" if task == "multi_label" else "R²"
    assert f"{second} gain over tfidf_logreg" in report.read_text()


def test_lp_ft_starts_a_regression_head_at_the_ridge_of_the_frozen_features(tiny_bert, scored, tmp_path):
    """model.new_head_init: logreg fits the head in the loop's own (standardised) units: with no step taken, the
    run predicts what frozen_logreg's ridge does."""
    common = {"data": {"label_column": "score", "validation_size": 0.25}, "model": {"pooling": "mean"}}
    ridge = run_config(tiny_config(tmp_path / "ridge", tiny_bert, scored, strategy={"name": "frozen_logreg"}, **common))
    start = run_config(tiny_config(tmp_path / "lpft", tiny_bert, scored, train={"epochs": 1, "lr": 1e-12,
                                                                                  "warmup_ratio": 0.0},
                                   **{**common, "model": {**common["model"], "new_head_init": "logreg"}}))
    assert start["final"]["test"]["mae"] == pytest.approx(ridge["final"]["test"]["mae"], rel=1e-3)


def test_rank_refuses_tags_in_one_line(tagged, tiny_bert, tmp_path, capsys):
    line = one_error_line(cli(["rank", "--models", str(tiny_bert), "--dataset", str(tagged), "--label-column", "tags",
                               "-o", str(tmp_path / "rank")], capsys))
    assert "multi_label data" in line and "one class per row" in line
