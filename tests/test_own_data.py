"""A user's own data, end to end: a CSV folder or an image folder in, a run started without a config file,
then the saved model evaluated on other data (`hf-transfer evaluate`) and used to label new rows
(`hf-transfer predict`, `hf_transfer.load(...).predict`); with the one-line refusals of those commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import WORDS, cli, one_error_line

FAST = ["--set", "train.min_steps=24", "--set", "train.epochs=2", "--set", "data.max_length=16"]


def _reviews(root, n_per_class=(10, 6, 4), seed=0):
    """A review CSV folder nobody tuned for: train.csv / test.csv with `review` and `sentiment` (imbalanced)."""
    rng = np.random.default_rng(seed)
    names = ["negative", "neutral", "positive"]
    root.mkdir(parents=True, exist_ok=True)
    for split, scale in (("train", 2), ("test", 1)):
        rows = [(" ".join(rng.choice(WORDS[k], size=5)), names[k]) for k, n in enumerate(n_per_class) for _ in range(n * scale)]
        pd.DataFrame(rows, columns=["review", "sentiment"]).to_csv(root / f"{split}.csv", index=False)
    return root


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, tiny_bert):
    """A run of the config-less command on the review CSVs (module-scoped: several tests read it)."""
    root = tmp_path_factory.mktemp("own")
    data = _reviews(root / "reviews")
    out = root / "run"
    args = ["run", "--model", str(tiny_bert), "--dataset", str(data), "--label-column", "sentiment",
            "--output-dir", str(out), *FAST]
    from hf_transfer.cli import main

    assert main(args) == 0
    return data, out


def test_a_run_starts_from_model_and_data_alone_and_writes_what_it_chose(text_run):
    data, out = text_run
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["data"]["text_column"] == "review" and saved["data"]["label_column"] == "sentiment"
    assert saved["data"]["eval_splits"] == ["test"] and saved["train"]["class_weights"] == "auto"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["label_names"] == ["negative", "neutral", "positive"]
    assert metrics["class_weights"] == "balanced"  # 'auto' on 20/12/8 rows (2.5x): balanced, recorded as applied


def test_print_config_writes_the_yaml_without_running(tmp_path, tiny_bert, capsys):
    data = _reviews(tmp_path / "reviews")
    result = cli(["run", "--model", str(tiny_bert), "--dataset", str(data), "--label-column", "sentiment",
                  "--output-dir", str(tmp_path / "never"), "--print-config"], capsys)
    assert result.returncode == 0 and not (tmp_path / "never").exists()
    assert "3 classes (negative 50 %, neutral 30 %, positive 20 %)" in result.stderr
    (tmp_path / "my.yaml").write_text(result.stdout)
    from hf_transfer.config import load

    cfg = load(str(tmp_path / "my.yaml"))  # the printed YAML is a valid config, with what was chosen
    assert cfg.data.label_column == "sentiment" and cfg.data.text_column == "review" and cfg.train.min_steps == 150
    assert cfg.model.pooling == "auto"  # a plain BERT folder: no sentence-embedding layout to read


def test_a_sentence_embedding_checkpoint_feeds_its_head_without_the_unit_length(tmp_path, tiny_sentence_model,
                                                                               capsys):
    """all-MiniLM-style checkpoints end in unit-length features; the config-less run pools them the same way but
    leaves that normalisation out, so the new head's logits are not held near 0 (and the run says so)."""
    data = _reviews(tmp_path / "reviews")
    result = cli(["run", "--model", str(tiny_sentence_model), "--dataset", str(data), "--label-column", "sentiment",
                  "--print-config"], capsys)
    assert result.returncode == 0 and "without its unit-length normalisation" in result.stderr
    assert yaml.safe_load(result.stdout)["model"]["pooling"] == "mean"


def test_a_second_domain_is_one_flag(tmp_path, tiny_bert, capsys):
    data, other = _reviews(tmp_path / "reviews"), _reviews(tmp_path / "other", seed=3)
    result = cli(["run", "--model", str(tiny_bert), "--dataset", str(data), "--label-column", "sentiment",
                  "--target", str(other), "--print-config"], capsys)
    assert result.returncode == 0 and f"target domain: {other}" in result.stderr
    assert yaml.safe_load(result.stdout)["data"]["target"]["dataset"] == str(other)
    line = one_error_line(cli(["run", "some.yaml", "--target", str(other)], capsys))
    assert "--target: only with --model and --dataset" in line


def test_evaluate_scores_a_run_as_the_run_did_and_predict_agrees(text_run, tmp_path, capsys):
    data, out = text_run
    result = cli(["evaluate", str(out), "--dataset", str(data), "-o", str(tmp_path / "ev")], capsys)
    assert result.returncode == 0, result.stderr
    scored = json.loads((tmp_path / "ev" / "metrics.json").read_text())["final"]["reviews"]
    own = json.loads((out / "metrics.json").read_text())["final"]["test"]
    for key in ("accuracy", "f1_macro", "f1_weighted", "num_samples"):
        assert scored[key] == pytest.approx(own[key]), key
    assert scored["loss"] == pytest.approx(own["loss"], rel=1e-4)
    for name in ("report.md", "report.html", "report.json", "sets.png"):
        assert (tmp_path / "ev" / name).is_file(), name

    result = cli(["predict", str(out), "--input", str(data / "test.csv"), "-o", str(tmp_path / "p.csv")], capsys)
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(tmp_path / "p.csv")
    test = pd.read_csv(data / "test.csv")
    assert len(rows) == len(test) and list(rows["review"]) == list(test["review"])  # the input's columns kept
    assert float((rows["label"] == test["sentiment"]).mean()) == pytest.approx(scored["accuracy"])
    probabilities = rows[["p_negative", "p_neutral", "p_positive"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert (rows["score"] == probabilities.max(1)).all()


def test_the_python_api_predicts_what_the_command_does(text_run, tmp_path, capsys):
    import hf_transfer

    data, out = text_run
    texts = list(pd.read_csv(data / "test.csv")["review"][:5])
    (tmp_path / "new.txt").write_text("\n".join(texts) + "\n")
    assert cli(["predict", str(out / "model"), "--input", str(tmp_path / "new.txt"), "-o", str(tmp_path / "p.csv")],
               capsys).returncode == 0
    predicted = hf_transfer.load(out).predict(texts)
    assert [p["label"] for p in predicted] == list(pd.read_csv(tmp_path / "p.csv")["label"])
    assert set(predicted[0]["probabilities"]) == {"negative", "neutral", "positive"}


def test_an_evaluation_goes_into_a_report_beside_runs(text_run, tmp_path, capsys):
    data, out = text_run
    assert cli(["evaluate", str(out), "--dataset", str(data), "-o", str(tmp_path / "ev")], capsys).returncode == 0
    result = cli(["report", str(out), str(tmp_path / "ev"), "-o", str(tmp_path / "report")], capsys)
    assert result.returncode == 0, result.stderr
    assert "evaluate_run" in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.parametrize("strategy", ["tfidf_logreg", "frozen_logreg"])
def test_fitted_baselines_predict_the_labels_evaluate_scores(strategy, tmp_path, tiny_bert, capsys):
    data = _reviews(tmp_path / "reviews")
    out = tmp_path / strategy
    assert cli(["run", "--model", str(tiny_bert), "--dataset", str(data), "--label-column", "sentiment",
                "--output-dir", str(out), "--set", f"strategy.name={strategy}", *FAST], capsys).returncode == 0
    assert cli(["evaluate", str(out), "--dataset", str(data), "-o", str(tmp_path / "ev")], capsys).returncode == 0
    accuracy = json.loads((tmp_path / "ev" / "metrics.json").read_text())["final"]["reviews"]["accuracy"]
    assert accuracy == pytest.approx(json.loads((out / "metrics.json").read_text())["final"]["test"]["accuracy"])
    assert cli(["predict", str(out), "--input", str(data / "test.csv"), "-o", str(tmp_path / "p.csv")],
               capsys).returncode == 0
    rows = pd.read_csv(tmp_path / "p.csv")
    assert float((rows["label"] == pd.read_csv(data / "test.csv")["sentiment"]).mean()) == pytest.approx(accuracy)


def test_predict_abstains_below_a_probability(tmp_path, tiny_bert, capsys):
    """--abstain-below P: rows whose top probability is under P keep their probabilities but no label."""
    data, out = _reviews(tmp_path / "reviews"), tmp_path / "tfidf"
    assert cli(["run", "--model", str(tiny_bert), "--dataset", str(data), "--label-column", "sentiment",
                "--output-dir", str(out), "--set", "strategy.name=tfidf_logreg", *FAST], capsys).returncode == 0
    args = ["predict", str(out), "--input", str(data / "test.csv")]
    assert cli([*args, "-o", str(tmp_path / "all.csv")], capsys).returncode == 0
    every = pd.read_csv(tmp_path / "all.csv")
    threshold = float(np.median(every["score"]))
    assert cli([*args, "-o", str(tmp_path / "some.csv"), "--abstain-below", str(threshold)], capsys).returncode == 0
    some = pd.read_csv(tmp_path / "some.csv", keep_default_na=False)
    abstained = some["abstained"].astype(str) == "True"
    assert list(abstained) == list(every["score"] < threshold) and 0 < abstained.sum() < len(some)
    assert (some.loc[abstained, "label"] == "").all()
    assert list(some.loc[~abstained, "label"]) == list(every.loc[~abstained, "label"])
    refused = cli([*args, "-o", str(tmp_path / "x.csv"), "--abstain-below", "1.5"], capsys)  # argparse's usage + error
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "error: argument --abstain-below: 1.5 is not a probability in [0, 1]" in refused.stderr


def test_an_image_folder_trains_evaluates_and_predicts_without_a_config(tmp_path, tiny_timm, image_folder, capsys):
    out = tmp_path / "run"
    result = cli(["run", "--model", str(tiny_timm), "--dataset", str(image_folder), "--output-dir", str(out),
                  "--set", "train.epochs=2"], capsys)
    assert result.returncode == 0, result.stderr
    assert "fed at 32 px" in result.stderr  # 16-px images are not upscaled to the model's 224
    assert yaml.safe_load((out / "config.yaml").read_text())["data"]["image_size"] == 32
    assert cli(["evaluate", str(out), "--dataset", str(image_folder), "-o", str(tmp_path / "ev")],
               capsys).returncode == 0
    accuracy = json.loads((tmp_path / "ev" / "metrics.json").read_text())["final"]["folder"]["accuracy"]
    assert accuracy == pytest.approx(json.loads((out / "metrics.json").read_text())["final"]["test"]["accuracy"])
    assert cli(["predict", str(out), "--input", str(image_folder / "test"), "-o", str(tmp_path / "p.csv")],
               capsys).returncode == 0
    rows = pd.read_csv(tmp_path / "p.csv")
    assert len(rows) == 12  # every image of test/, one row each, named by its path under the folder
    truth = rows["path"].str.split("/").str[0]
    assert float((rows["label"] == truth).mean()) == pytest.approx(accuracy)


def test_evaluate_prints_the_table_with_the_drop_between_datasets(text_run, tmp_path, capsys):
    data, out = text_run
    other = _reviews(tmp_path / "shifted", n_per_class=(3, 3, 3), seed=7)
    result = cli(["evaluate", str(out), "--dataset", str(data), "--dataset", str(other), "-o", str(tmp_path / "ev")],
                 capsys)
    assert result.returncode == 0, result.stderr
    assert "macro-F1 change" in result.stdout and "| shifted |" in result.stdout
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    sets = report["sets"]
    assert report["change"]["shifted"]["accuracy"] == pytest.approx(sets["shifted"]["accuracy"] - sets["reviews"]["accuracy"])


def test_missing_label_cells_are_left_out_with_a_warning(tmp_path, tiny_bert, capsys, caplog):
    data = _reviews(tmp_path / "reviews")
    frame = pd.read_csv(data / "train.csv")
    frame.loc[[0, 5], "sentiment"] = None
    frame.to_csv(data / "train.csv", index=False)
    result = cli(["run", "--model", str(tiny_bert), "--dataset", str(data), "--label-column", "sentiment",
                  "--output-dir", str(tmp_path / "run"), "--set", "strategy.name=tfidf_logreg"], capsys)
    assert result.returncode == 0, result.stderr
    assert "train: 2 of 40 rows have no label" in caplog.text


def test_bad_inputs_to_the_new_commands_are_one_line(text_run, tmp_path, tiny_bert, capsys):
    data, out = text_run
    line = one_error_line(cli(["run", "--model", str(tiny_bert), "--dataset", str(data), "--label-column", "stars",
                               "--print-config"], capsys))
    assert "data.label_column: column 'stars' not found" in line and "review, sentiment" in line
    assert "--model and --dataset" in one_error_line(cli(["run", "--model", str(tiny_bert)], capsys))
    line = one_error_line(cli(["evaluate", str(tiny_bert), "--dataset", str(data), "-o", str(tmp_path / "e1")], capsys))
    assert "has no class names" in line  # a bare backbone: no labels to predict
    other = tmp_path / "topics"
    other.mkdir()
    pd.DataFrame({"review": ["good fine", "red blue"], "sentiment": ["sports", "neutral"]}).to_csv(other / "test.csv")
    line = one_error_line(cli(["evaluate", str(out), "--dataset", str(other), "-o", str(tmp_path / "e2")], capsys))
    assert "labels the model does not know: sports" in line
    (tmp_path / "empty.txt").write_text("\n")
    line = one_error_line(cli(["predict", str(out), "--input", str(tmp_path / "empty.txt"), "-o",
                               str(tmp_path / "p.csv")], capsys))
    assert "has no rows" in line and not (tmp_path / "p.csv").exists()
    (tmp_path / "p.csv").write_text("mine")
    line = one_error_line(cli(["predict", str(out), "--input", str(data / "test.csv"), "-o", str(tmp_path / "p.csv")],
                              capsys))
    assert "--overwrite" in line and (tmp_path / "p.csv").read_text() == "mine"  # the user's file is kept
    line = one_error_line(cli(["predict", str(tmp_path / "nowhere"), "--input", str(data / "test.csv")], capsys))
    assert "not a run directory" in line


def test_auto_class_weights_are_balanced_only_for_imbalanced_labels():
    from hf_transfer.tasks.class_weights import class_weight_tensor, resolve_class_weights

    assert resolve_class_weights("auto", [0, 0, 1, 1, 2, 2, 2], 3) is None  # 1.5x: not imbalanced
    assert resolve_class_weights("auto", [0, 0, 0, 0, 1, 2], 3) == "balanced"
    assert resolve_class_weights(None, [0, 0, 0, 0, 1], 2) is None and resolve_class_weights([1, 2], [0], 2) == [1, 2]
    assert class_weight_tensor("auto", [0, 0, 1, 2, 2, 2], 3).tolist() == pytest.approx([1.0, 2.0, 2 / 3])
