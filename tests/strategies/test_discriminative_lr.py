import pytest
from helpers import KINDS, pretrained, run, strategy_cfg

from hf_transfer.config import TrainConfig
from hf_transfer.strategies import get_strategy


@pytest.mark.parametrize("kind", KINDS)
def test_each_group_gets_lr_times_decay_to_its_depth(kind, assets):
    model = pretrained(kind, assets)
    groups = model.layer_groups()
    s = get_strategy(strategy_cfg(name="discriminative_lr", discriminative_lr={"decay": 0.5}))
    param_groups = s.param_groups(model, TrainConfig(lr=0.1, weight_decay=0.01))
    lr_of = {n: g["lr"] for g in param_groups for n in g["param_names"]}
    for depth, names in enumerate(reversed(groups)):
        assert all(lr_of[n] == pytest.approx(0.1 * 0.5 ** depth) for n in names)
    assert sorted(lr_of) == sorted(n for n, _ in model.named_parameters())
    decay = {n: g["weight_decay"] for g in param_groups for n in g["param_names"]}
    assert all(decay[n] == (0.01 if p.ndim > 1 else 0.0) for n, p in model.named_parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_runs_end_to_end(tmp_path, kind, assets):
    _, metrics = run(tmp_path, kind, assets, {"name": "discriminative_lr"})
    assert metrics["status"] == "finished" and metrics["strategy"] == "discriminative_lr"
