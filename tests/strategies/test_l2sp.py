import pytest
import torch
from helpers import KINDS, pretrained, run, strategy_cfg

from hf_transfer.strategies import get_strategy


@pytest.mark.parametrize("kind", KINDS)
def test_penalty_and_gradient_match_a_hand_computation(kind, assets):
    model = pretrained(kind, assets)
    s = get_strategy(strategy_cfg(name="l2sp", l2sp={"alpha": 0.3, "beta": 0.7}))
    s.setup(model)
    head = model.head_parameter_names()
    params = dict(model.named_parameters())
    moved = next(n for n in params if n not in head and params[n].ndim > 1)
    delta = torch.randn_like(params[moved]) * 0.1
    with torch.no_grad():
        params[moved] += delta
    penalty = s.penalty(model)
    expected = 0.3 / 2 * delta.pow(2).sum() + 0.7 / 2 * sum(params[n].pow(2).sum() for n in head)
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    penalty.backward()
    assert torch.allclose(params[moved].grad, 0.3 * delta, atol=1e-6)  # d/dw alpha/2 ||w - w0||^2
    head_name = next(iter(head))
    assert torch.allclose(params[head_name].grad, 0.7 * params[head_name].detach(), atol=1e-6)
    untouched = next(n for n in params if n not in head and n != moved and params[n].ndim > 1)
    assert not params[untouched].grad.abs().any()


@pytest.mark.parametrize("kind", KINDS)
def test_runs_end_to_end(tmp_path, kind, assets):
    _, metrics = run(tmp_path, kind, assets, {"name": "l2sp"}, train={"weight_decay": 0.0})
    assert metrics["status"] == "finished"
