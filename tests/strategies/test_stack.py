"""Strategies stack: gradual unfreezing + layer-wise LR decay + L2-SP in one run, resumed exactly."""

import pytest
import torch
from helpers import config, pretrained, strategy_cfg
from safetensors.torch import load_file

from hf_transfer.config import Config, TrainConfig, apply_overrides
from hf_transfer.errors import ConfigError
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import Stack, get_strategy
from hf_transfer.strategies.base import Step

STACK = {"name": "gradual_unfreeze+discriminative_lr+l2sp", "discriminative_lr": {"decay": 0.5}}


def test_stack_combines_hooks(assets):
    model = pretrained("timm", assets)
    s = get_strategy(strategy_cfg(**STACK))
    assert isinstance(s, Stack) and s.name == STACK["name"]
    s.setup(model)
    groups = s.param_groups(model, TrainConfig(lr=1.0))
    assert {g["lr"] for g in groups} == {0.5 ** d for d in range(len(model.layer_groups()))}
    s.on_epoch_start(0, model)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == set(model.layer_groups()[-1])
    with torch.no_grad():
        model.head.weight.fill_(0.5)
    penalty = 0.01 / 2 * 0.25 * model.head.weight.numel()  # beta/2 * ||w_head||^2, beta's default 0.01
    assert s.loss(Step({}, loss=torch.tensor(1.0), model=model)).item() == pytest.approx(1.0 + penalty)


def test_stacked_run_resumes_exactly(tmp_path, assets):
    whole = run_config(config(tmp_path, "timm", assets, STACK, "whole", train={"epochs": 3, "weight_decay": 0.0}))
    stop = whole["history"][0]["step"] + 2
    cut = config(tmp_path, "timm", assets, STACK, "cut", train={"epochs": 3, "weight_decay": 0.0, "stop_after_steps": stop})
    assert run_config(cut)["status"] == "stopped"
    run_config(config(tmp_path, "timm", assets, STACK, "cut", train={"epochs": 3, "weight_decay": 0.0}), resume=True)
    a = load_file(str(tmp_path / "whole" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name, message", [
    ("freeze_all", "strategy.name: 'freeze_all' is not one of: full, linear_probe"),
    ("l2sp+l2sp", "names a strategy twice"),
    ("distill", "strategy.distill.teacher: required"),
    ("lora+l2sp", "lora does not stack with l2sp"),
])
def test_bad_strategy_names_are_config_errors(name, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Config(), [f"strategy.name={name}"])
