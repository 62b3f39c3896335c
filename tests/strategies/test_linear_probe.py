import pytest
from helpers import KINDS, changed, pretrained, run, same, state, trained


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_head_trains_and_the_backbone_stays_bit_identical(tmp_path, kind, assets):
    out, metrics = run(tmp_path, kind, assets, {"name": "linear_probe"})
    model = pretrained(kind, assets)
    head = {n for n in model.state_dict() if n.startswith(f"net.{model.head_attr}.")}
    before, after = state(model), state(trained(kind, out))
    backbone = [n for n in before if n not in head]
    assert same(before, after, backbone)  # BatchNorm running statistics included (timm)
    if kind == "timm":
        assert any("running_mean" in n for n in backbone)
    assert changed(before, after, head)
    assert metrics["parameters"]["trainable"] == sum(p.numel() for p in model.head.parameters())
