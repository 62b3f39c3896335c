import datasets
import pytest

from hf_transfer.config import DataConfig, EvalSource
from hf_transfer.data.readers import load_source
from hf_transfer.data.splits import build_splits
from hf_transfer.errors import ConfigError, UserError


def test_hub_schema_columns_are_mapped_and_validation_is_carved_stratified(cifar_like):
    s = build_splits(DataConfig(dataset=str(cifar_like), eval_splits=["test"], validation_size=0.25))
    assert s.modality == "image" and s.label_names == ["airplane", "bird", "cat"]
    assert s.train.column_names == ["image", "label"]
    # 48 train samples, 16 per class: a quarter is held out, 4 of each class
    assert len(s.train) == 36 and len(s.validation) == 12
    assert sorted(s.validation["label"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert len(s.evals["test"]) == 18


def test_cifar100_fine_label_is_found(cifar100_like):
    s = build_splits(DataConfig(dataset=str(cifar100_like), eval_splits=["test"]))
    assert s.label_names == ["a", "b", "c"]
    coarse = build_splits(DataConfig(dataset=str(cifar100_like), eval_splits=["test"], label_column="coarse_label"))
    assert coarse.label_names == ["x", "y"]


def test_unlabelled_split_is_never_scored(sst2_like):
    with pytest.raises(ConfigError, match="the 'test' set has no labelled samples"):
        build_splits(DataConfig(dataset=str(sst2_like), eval_splits=["test"]))
    s = build_splits(DataConfig(dataset=str(sst2_like), eval_splits=["validation"], validation_split="validation"))
    assert s.modality == "text" and len(s.validation) == 12 and len(s.evals["validation"]) == 12


def test_unlabelled_samples_are_dropped_from_mixed_splits(tmp_path):
    ds = datasets.Dataset.from_dict({"text": ["a", "b", "c", "d", "e", "f"], "label": [0, 1, -1, 0, 1, -1]})
    datasets.DatasetDict(train=ds, test=ds).save_to_disk(str(tmp_path / "mixed"))
    s = build_splits(DataConfig(dataset=str(tmp_path / "mixed"), eval_splits=["test"], validation_split=None))
    assert s.train["label"] == [0, 1, 0, 1] and s.evals["test"]["label"] == [0, 1, 0, 1]


def test_image_folder_and_csv_file_load(image_folder, sst2_like):
    s = build_splits(DataConfig(dataset=str(image_folder), eval_splits=["test"]))
    assert s.label_names == ["airplane", "bird", "cat"] and len(s.evals["test"]) == 12
    dd = load_source(str(sst2_like / "train.csv"))
    assert list(dd) == ["train"] and "sentence" in dd["train"].column_names


def test_sample_limits_are_stratified(cifar_like):
    s = build_splits(DataConfig(dataset=str(cifar_like), eval_splits=["test"], max_train_samples=9, max_eval_samples=6))
    assert sorted(s.train["label"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert sorted(s.evals["test"]["label"]) == [0, 0, 1, 1, 2, 2]


def test_missing_column_lists_available_ones(cifar_like):
    with pytest.raises(ConfigError) as e:
        build_splits(DataConfig(dataset=str(cifar_like), label_column="fine_label"))
    assert str(e.value) == "data.label_column: column 'fine_label' not found; available columns: img, label"


def test_missing_split_lists_available_ones(cifar_like):
    with pytest.raises(ConfigError, match="data.eval_splits: split 'validation2' not in .*; it has: train, test"):
        build_splits(DataConfig(dataset=str(cifar_like), eval_splits=["validation2"]))


def test_extra_eval_labels_are_aligned_by_name(cifar_like, tmp_path):
    names = ["cat", "airplane", "bird"]  # same classes, another order
    ds = datasets.Dataset.from_dict({"label": [0, 1, 2], "img": [datasets.load_from_disk(str(cifar_like))["test"][0]["img"]] * 3},
                                    features=datasets.Features({"label": datasets.ClassLabel(names=names), "img": datasets.Image()}))
    datasets.DatasetDict(test=ds).save_to_disk(str(tmp_path / "other"))
    s = build_splits(DataConfig(dataset=str(cifar_like), extra_eval={"other": EvalSource(str(tmp_path / "other"), "test")}))
    assert s.evals["other"]["label"] == [2, 0, 1]  # cat, airplane, bird in the training label order


def test_unknown_hub_dataset_names_the_id_and_the_network():
    with pytest.raises(UserError) as e:
        load_source("no-such-owner/no-such-dataset")
    msg = str(e.value)
    assert "no-such-owner/no-such-dataset" in msg and "network" in msg and "\n" not in msg


def test_missing_local_path_is_reported():
    with pytest.raises(UserError, match="local path './nope.csv' does not exist"):
        load_source("./nope.csv")


def test_target_validation_rows_are_carved_from_target_train_and_seen_by_no_method(cifar_like, tmp_path):
    """data.target.validation_samples: N labelled rows of the target train split, none of them among the rows the
    methods adapt on (unlabelled) or train on (oracle), scored as the 'target_validation' eval set."""
    from helpers import image_target

    from hf_transfer.config import TargetConfig

    target = image_target(tmp_path / "target")
    total = len(datasets.load_from_disk(str(target))["train"])

    def splits(n, train_on="source"):
        return build_splits(DataConfig(dataset=str(cifar_like), eval_splits=["test"],
                                       target=TargetConfig(dataset=str(target), validation_samples=n)),
                            seed=3, train_on=train_on)

    def rows(ds):
        return {bytes(memoryview(ds[i]["image"].tobytes())) for i in range(len(ds))}

    s, oracle, none = splits(5), splits(5, "target"), splits(0)
    dev = s.evals["target_validation"]
    assert len(dev) == 5 and len(s.target_train) == total - 5 and "label" not in s.target_train.column_names
    assert not rows(dev) & rows(s.target_train) and not rows(dev) & rows(oracle.train)
    assert not rows(dev) & rows(s.evals["target"]) and len(oracle.train) == total - 5
    assert "target_validation" not in none.evals and len(none.target_train) == total
    assert rows(dev) | rows(s.target_train) == rows(none.target_train)
    assert "for choices across runs only" in s.dataset_ids["target_validation"]
    with pytest.raises(ConfigError, match=rf"^data\.target\.validation_samples: {total} of the {total} target train rows"):
        splits(total)


def test_labelled_per_class_keeps_n_of_each_class_seeded_and_gives_the_rest_unlabelled(cifar_like):
    """data.labelled_per_class: N: N labelled train rows per class (a seeded draw, another per seed), at most N per
    class of validation, and every other train row, without its label, as the method's unlabelled data."""
    from collections import Counter

    def splits(n, seed=0):
        return build_splits(DataConfig(dataset=str(cifar_like), eval_splits=["test"], labelled_per_class=n), seed=seed)

    def rows(ds):
        return [bytes(memoryview(ds[i]["image"].tobytes())) for i in range(len(ds))]

    every = build_splits(DataConfig(dataset=str(cifar_like), eval_splits=["test"]), seed=0)
    few, again, other = splits(4), splits(4), splits(4, seed=1)
    assert Counter(few.train["label"]) == {0: 4, 1: 4, 2: 4} and every.target_train is None
    assert rows(few.train) == rows(again.train) and set(rows(few.train)) != set(rows(other.train))
    assert max(Counter(few.validation["label"]).values()) <= 4 and set(rows(few.validation)) <= set(rows(every.validation))
    assert "label" not in few.target_train.column_names and len(few.target_train) == len(every.train) - 12
    assert sorted(rows(few.train) + rows(few.target_train)) == sorted(rows(every.train))  # disjoint, nothing lost
    assert few.evals["test"]["label"] == every.evals["test"]["label"]  # the test set is untouched


def test_labelled_per_class_is_checked(cifar_like, tmp_path):
    from hf_transfer.config import from_dict

    base = {"data": {"dataset": str(cifar_like)}, "strategy": {"name": "self_training"}}
    from_dict({**base, "data": {**base["data"], "labelled_per_class": 4}})  # the unlabelled rest stands in for a target
    with pytest.raises(ConfigError, match=r"^data\.target\.dataset: required by strategy self_training"):
        from_dict(base)
    with pytest.raises(ConfigError, match=r"^data\.labelled_per_class: must be at least 1"):
        from_dict({"data": {"dataset": str(cifar_like), "labelled_per_class": 0}})
    with pytest.raises(ConfigError, match=r"^data\.labelled_per_class: gives the unlabelled rest .* leave data\.target out"):
        from_dict({"data": {"dataset": str(cifar_like), "labelled_per_class": 4, "target": {"dataset": str(tmp_path)}}})
