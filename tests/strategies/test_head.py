import pytest
import torch
from helpers import KINDS, pretrained, run, trained
from torch import nn


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_layers_replace_the_linear_head_and_reload(tmp_path, kind, assets):
    out, _ = run(tmp_path, kind, assets, {"name": "head", "head": {"hidden": [16, 8], "dropout": 0.1}})
    model = trained(kind, out).eval()
    linears = [m for m in model.head.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [16, 8, 3]
    if kind == "timm":
        x = {"pixel_values": torch.randn(2, 3, 32, 32)}
    else:
        x = dict(model.processor(["good", "bad sad"], padding=True, return_tensors="pt"))
    again = trained(kind, out).eval()
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
        logits, features = model(x, return_features=True)
    assert features.shape[-1] == linears[0].in_features


def test_mlp_head_weights_differ_from_a_fresh_head(tmp_path, assets):
    out, _ = run(tmp_path, "timm", assets, {"name": "head", "head": {"hidden": [16]}})
    saved = trained("timm", out).head.state_dict()
    fresh = pretrained("timm", assets)
    assert saved["1.weight"].shape == (16, fresh.num_features)
