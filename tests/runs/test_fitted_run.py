"""Fitted baselines (tfidf_logreg, frozen_logreg) as first-class runs, and the report's gain over them."""

import json

import numpy as np
import pytest
import torch
from helpers import tiny_config

from hf_transfer.config import ModelConfig
from hf_transfer.data.splits import build_splits
from hf_transfer.models import load_backbone
from hf_transfer.runs import logreg
from hf_transfer.runs.pipeline import run_config
from hf_transfer.tasks import get_task


def test_tfidf_logreg_end_to_end(tmp_path, text_like, tiny_bert):
    cfg = tiny_config(tmp_path / "tfidf", tiny_bert, text_like, name="tfidf", strategy={"name": "tfidf_logreg"})
    m = run_config(cfg)
    assert m["status"] == "finished" and m["strategy"] == "tfidf_logreg" and m["library"] == "scikit-learn"
    assert m["baseline"]["C"] in get_task("single_label").linear_grid and m["selected_by"].startswith("validation/f1_macro over C")
    model = tmp_path / "tfidf" / "model"
    assert not [p.name for p in model.iterdir() if p.suffix in (".joblib", ".pkl", ".pickle", ".bin")]  # no pickle
    pipeline, names = logreg.load_tfidf(model)  # numbers only: JSON and safetensors
    test = build_splits(cfg.data, "auto", cfg.train.seed).eval_sets["test"]
    predicted = pipeline.predict(test["text"])
    assert names == m["label_names"]
    assert m["final"]["test"]["accuracy"] == pytest.approx(float(np.mean(predicted == np.array(test["label"]))))
    on_disk = json.loads((tmp_path / "tfidf" / "metrics.json").read_text())
    assert on_disk["final"] == m["final"]
    assert "tfidf_logreg" in (tmp_path / "tfidf" / "model" / "README.md").read_text()
    assert (tmp_path / "tfidf" / "report.md").is_file()


def test_tfidf_logreg_refusesimages(tmp_path, tiny_timm, cifar_like):
    from hf_transfer.errors import UserError

    cfg = tiny_config(tmp_path / "x", tiny_timm, cifar_like, strategy={"name": "tfidf_logreg"})
    with pytest.raises(UserError, match="strategy.name: tfidf_logreg works on text data"):
        run_config(cfg)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("kind", ["timm", "transformers"])
def test_frozen_logreg_saves_a_model_that_predicts_as_the_regression(tmp_path, kind, assets):
    model_dir, data = assets[kind]
    modality = "image" if kind == "timm" else "text"
    extra = {"data": {"eval_splits": ["validation"]}} if kind == "transformers" else {}
    cfg = tiny_config(tmp_path / "frozen", model_dir, data, strategy={"name": "frozen_logreg"}, **extra)
    m = run_config(cfg)
    labels = m["label_names"]
    before = load_backbone(ModelConfig(name=str(model_dir)), modality, labels)
    after = load_backbone(ModelConfig(name=str(tmp_path / "frozen" / "model")), modality, labels)
    head = after.head_parameter_names()
    b, a = before.state_dict(), after.state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a if n not in head and n in b)  # the backbone stays as it was
    splits = build_splits(cfg.data, "auto", cfg.train.seed)
    features = logreg.backbone_features(after, splits, cfg)
    name = cfg.data.eval_splits[0]
    predicted = after.cpu().head(torch.as_tensor(features[name])).argmax(-1).numpy()  # features are on the CPU
    refs = np.array(splits.eval_sets[name]["label"])
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(matrix, (refs, predicted), 1)
    assert matrix.tolist() == m["final"][name]["confusion_matrix"]


def test_frozen_logreg_folds_a_binary_regression_into_two_logits():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)) * 3 + 1
    y = (x[:, 0] + x[:, 1] > 2).astype(int)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)

    class Holder:
        head = torch.nn.Linear(6, 3)

    logreg.fold_into_head(Holder, pipe, get_task("single_label"), ["a", "b", "c"])
    logits = Holder.head(torch.as_tensor(x, dtype=torch.float))
    assert logits.argmax(-1).tolist() == pipe.predict(x).tolist()
    assert (logits[:, 2] < -1e3).all()  # a class absent from training is never predicted


def test_report_shows_gain_over_the_fitted_baselines(tmp_path, text_like, tiny_bert):
    from hf_transfer.reports import run_report as report

    common = {"train": {"epochs": 1}}
    runs = {"finetune": {"name": "full"}, "tfidf_logreg": {"name": "tfidf_logreg"},
            "frozen_logreg": {"name": "frozen_logreg"}}
    for name, strategy in runs.items():
        run_config(tiny_config(tmp_path / name, tiny_bert, text_like, name=name, strategy=strategy, **common))
    report.compare([tmp_path / n for n in runs], tmp_path / "report")
    table = json.loads((tmp_path / "report" / "report.json").read_text())
    assert table["classic_baselines"] == ["frozen_logreg", "tfidf_logreg"]
    metrics = {n: json.loads((tmp_path / n / "metrics.json").read_text())["final"]["test"] for n in runs}
    row = next(r for r in table["rows"] if r["run"] == "finetune")
    for b in ("tfidf_logreg", "frozen_logreg"):
        assert row["eval"]["test"]["gain_over"][b]["f1_macro"] == pytest.approx(
            metrics["finetune"]["f1_macro"] - metrics[b]["f1_macro"])
    tfidf_row = next(r for r in table["rows"] if r["run"] == "tfidf_logreg")
    assert set(tfidf_row["eval"]["test"]["gain_over"]) == {"frozen_logreg"}  # never against itself
    md = (tmp_path / "report" / "report.md").read_text()
    assert "macro-F1 gain over tfidf_logreg" in md and "macro-F1 gain over frozen_logreg" in md
    assert "F1 vs tfidf_" in report.results_table(tmp_path / "report" / "report.json")


def test_recipes_add_the_baselines_on_request():
    from hf_transfer.launch import load_configs

    for name, args, expected in (
        ("bbc_news_minilm", ["--baselines"], ["full", "tfidf_logreg", "frozen_logreg"]),
        ("text_classification", ["--offline", "--baselines"], ["full", "tfidf_logreg", "frozen_logreg"]),
        ("digits_efficientnet", ["--baselines"], ["full", "full", "frozen_logreg"]),
        ("bbc_news_minilm", [], ["full"]),
    ):
        configs, _ = load_configs(name, [], recipe_args=args)
        assert [c.strategy.name for c in configs] == expected, name
        assert len({c.output_dir for c in configs}) == len(configs)
        assert len({(c.data.dataset, c.model.name, c.train.seed) for c in configs if c.model.pretrained}) == 1


@pytest.mark.parametrize("strategy, message", [
    ("tfidf_logreg+l2sp", "strategy.name: tfidf_logreg runs without the training loop; it does not stack"),
])
def test_fitted_baselines_do_not_stack(strategy, message):
    from hf_transfer import config
    from hf_transfer.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        config.apply_overrides(config.Config(), [f"strategy.name={strategy}"])


def test_a_dead_feature_dimension_does_not_blow_up_the_folded_head():
    """Embedding models have dimensions that are ~0 everywhere (all-MiniLM-L6-v2: three of 384, ~1e-34);
    standardised as they are, they become noise and fold into head weights of ~1e31."""
    from hf_transfer.config import from_dict

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    x[:, 2] = rng.normal(size=60) * 1e-34
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    features = {"train": x[:40], "validation": x[40:]}
    labels = {"train": list(y[:40]), "validation": list(y[40:])}
    pipe, _, _ = logreg.fit_logreg(features, labels, from_dict({}), get_task("single_label"), ["a", "b", "c"], scale=True,
                                   metric="f1_macro")

    class Holder:
        head = torch.nn.Linear(5, 3)

    logreg.fold_into_head(Holder, pipe, get_task("single_label"), ["a", "b", "c"])
    assert Holder.head.weight.abs().max() < 1e4
    logits = Holder.head(torch.as_tensor(x, dtype=torch.float))
    assert logits.argmax(-1).tolist() == pipe.predict(x).tolist()


@pytest.mark.parametrize("kind", ["timm", "transformers"])
def test_lp_ft_starts_from_the_frozen_logreg_head(tmp_path, kind, assets):
    """model.new_head_init: logreg fits the same regression as the frozen_logreg baseline, folds it into the
    head, then fine-tunes (here one step at a negligible lr, so the saved head is still that regression)."""
    model_dir, data = assets[kind]
    modality = "image" if kind == "timm" else "text"
    extra = {"data": {"eval_splits": ["validation"]}} if kind == "transformers" else {}
    frozen = run_config(tiny_config(tmp_path / "frozen", model_dir, data, strategy={"name": "frozen_logreg"},
                                    train={"calibrate": "none"}, **extra))  # the heads as fitted, not scaled
    lp_ft = run_config(tiny_config(tmp_path / "lp_ft", model_dir, data, model={"new_head_init": "logreg"},
                                   train={"max_steps": 1, "lr": 1e-12, "epochs": 1, "calibrate": "none"}, **extra))
    heads = [load_backbone(ModelConfig(name=str(tmp_path / run / "model")), modality, frozen["label_names"]).head
             for run in ("frozen", "lp_ft")]
    assert torch.allclose(heads[0].weight, heads[1].weight, rtol=1e-4, atol=1e-4)
    assert torch.allclose(heads[0].bias, heads[1].bias, rtol=1e-4, atol=1e-4)
    name = next(k for k in reversed(list(lp_ft["final"])))  # the test set, or validation (text)
    assert lp_ft["final"][name]["confusion_matrix"] == frozen["final"][name]["confusion_matrix"]


def test_lp_ft_needs_a_linear_head():
    from hf_transfer import config
    from hf_transfer.errors import ConfigError

    with pytest.raises(ConfigError, match="model.new_head_init: logreg fits a linear head"):
        config.apply_overrides(config.Config(), ["model.new_head_init=logreg", "strategy.name=head"])
