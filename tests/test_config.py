import pytest
import yaml

from hf_transfer import config
from hf_transfer.errors import ConfigError


def test_defaults_validate_and_round_trip_through_yaml(tmp_path):
    cfg = config.Config()
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert config.load(path) == cfg


def test_overrides_parse_values_by_field_type():
    cfg = config.apply_overrides(config.Config(), [
        "train.epochs=7", "train.lr=3e-4", "train.max_grad_norm=null", "data.eval_splits=[test, validation2]",
        "model.pretrained=false", "data.extra_eval={uci: {dataset: pypi:uci_digits, split: test}}",
    ])
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.max_grad_norm) == (7, 3e-4, None)
    assert cfg.data.eval_splits == ["test", "validation2"] and cfg.model.pretrained is False
    assert cfg.data.extra_eval["uci"].dataset == "pypi:uci_digits"


@pytest.mark.parametrize("override, message", [
    ("train.optimizer=adamx", "train.optimizer: 'adamx' is not one of: adamw, sgd"),
    ("train.epochs=0", "train.epochs: must be at least 1"),
    ("train.epochs=three", "train.epochs: expected an integer"),
    ("train.lr=-1", "train.lr: must be positive"),
    ("train.epoch=3", "train.epoch: unknown field; train has:"),
    ("trian.epochs=3", "trian: unknown field"),
    ("train.mixed_precision=fp8", "train.mixed_precision: 'fp8' is not one of: no, fp16, bf16"),
    ("data.validation_size=1.5", "data.validation_size: must be in (0, 1)"),
    ("model.pretrained=maybe", "model.pretrained: expected true or false"),
    ("hub.push_to_hub=true", "hub.repo_id: is required when hub.push_to_hub is true"),
    ("data.extra_eval={test: {dataset: x}}", "data.extra_eval.test: the name is taken by a split"),
    ("data.extra_eval={uci: {dataset: x, spilt: test}}", "data.extra_eval.uci.spilt: unknown field"),
    ("train.lr=.inf", "train.lr: must be positive and finite"),
    ("train.class_weights=balancd", "train.class_weights: must be auto, null, 'balanced' or a list"),
    ("train.class_weights=[1, -2]", "train.class_weights: must be auto, null, 'balanced' or a list"),
    ("train.lr_multipliers={haed: 10}", "train.lr_multipliers: must map backbone, bottleneck, head and/or"),
    ("model.bottleneck=-1", "model.bottleneck: must be 0 or more"),
    ("strategy.name=head;model.bottleneck=8", "model.bottleneck: strategy head builds its own hidden layers"),
    ("train.min_steps=0", "train.min_steps: must be at least 1"),
    ("train.early_stopping_patience=0", "train.early_stopping_patience: must be at least 1"),
    ("train.min_validation_rows=-1", "train.min_validation_rows: must be 0 or more"),
    ("model.pooling=weighted", "model.pooling: 'weighted' is not one of: auto, head, mean, cls, max"),
])
def test_bad_values_name_the_field(override, message):
    with pytest.raises(ConfigError) as e:
        config.apply_overrides(config.Config(), override.split(";"))  # ';' joins several overrides
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_yaml_and_missing_file_are_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(bad)
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text(yaml.safe_dump({"train": [1, 2]}))
    with pytest.raises(ConfigError, match="train: expected a mapping"):
        config.load(listed)


def test_every_field_has_help():
    rows = config.describe()
    assert len(rows) > 40
    assert all(help_ for _, _, help_ in rows), [k for k, _, h in rows if not h]


def test_min_steps_may_not_exceed_max_steps():
    with pytest.raises(ConfigError, match="train.min_steps: must not exceed train.max_steps"):
        config.apply_overrides(config.Config(), ["train.max_steps=10", "train.min_steps=20"])


def test_the_written_config_holds_only_the_strategy_sections_the_run_uses():
    cfg = config.from_dict({"strategy": {"name": "l2sp+discriminative_lr", "l2sp": {"alpha": 0.5}, "lora": {"r": 2}}})
    written = yaml.safe_load(cfg.to_yaml())
    assert set(written["strategy"]) == {"name", "l2sp", "discriminative_lr"} and written["strategy"]["l2sp"]["alpha"] == 0.5
    assert config.from_dict(written).used() == cfg.used()  # read back: the same run
    assert cfg.to_dict()["strategy"]["lora"]["r"] == 2  # overrides still see every section
