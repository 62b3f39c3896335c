import pytest
import torch
from helpers import KINDS, changed, config, pretrained, run, same, state, strategy_cfg, trained
from safetensors.torch import load_file

from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import get_strategy


@pytest.mark.parametrize("kind", KINDS)
def test_head_first_then_deeper_groups(kind, assets):
    model = pretrained(kind, assets)
    s = get_strategy(strategy_cfg(name="gradual_unfreeze"))
    s.setup(model)
    groups = model.layer_groups()
    trainable = lambda: {n for n, p in model.named_parameters() if p.requires_grad}  # noqa: E731
    s.on_epoch_start(0, model)
    assert trainable() == set(groups[-1])
    s.on_epoch_start(1, model)
    assert trainable() == set(groups[-1]) | set(groups[-2])
    s.on_epoch_start(100, model)
    assert trainable() == {n for g in groups for n in g}


@pytest.mark.parametrize("kind", KINDS)
def test_groups_never_unfrozen_stay_identical(tmp_path, kind, assets):
    out, _ = run(tmp_path, kind, assets, {"name": "gradual_unfreeze"}, train={"epochs": 2})
    model = pretrained(kind, assets)
    groups = model.layer_groups()
    before, after = state(model), state(trained(kind, out))
    assert same(before, after, [n for g in groups[:-2] for n in g])  # only the head, then the last group trained
    assert changed(before, after, [n for n in groups[-2] if n.endswith("weight")])


def test_resume_restores_which_groups_train(tmp_path, assets):
    strategy = {"name": "gradual_unfreeze"}
    whole = run_config(config(tmp_path, "timm", assets, strategy, "whole", train={"epochs": 3}))
    stop = whole["history"][1]["step"] + 1  # inside the third epoch
    first = run_config(config(tmp_path, "timm", assets, strategy, "cut", train={"epochs": 3, "stop_after_steps": stop}))
    assert first["status"] == "stopped"
    saved = (tmp_path / "cut" / "checkpoints").glob("step_*/trainer_state.json")
    import json

    trainable = json.loads(max(saved).read_text())["strategy"]["trainable"]
    groups = pretrained("timm", assets).layer_groups()
    assert set(trainable) == set(groups[-1]) | set(groups[-2]) | set(groups[-3])
    run_config(config(tmp_path, "timm", assets, strategy, "cut", train={"epochs": 3}), resume=True)
    a = load_file(str(tmp_path / "whole" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
