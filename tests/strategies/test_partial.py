import pytest
from helpers import KINDS, changed, pretrained, run, same, state, trained


@pytest.mark.parametrize("kind", KINDS)
def test_first_groups_freeze_and_later_ones_train(tmp_path, kind, assets):
    out, _ = run(tmp_path, kind, assets, {"name": "partial", "partial": {"freeze_groups": 2}})
    model = pretrained(kind, assets)
    groups = model.layer_groups()
    before, after = state(model), state(trained(kind, out))
    assert same(before, after, groups[0] + groups[1])
    assert changed(before, after, [n for n in groups[-2] if n.endswith("weight")])


def test_freeze_by_name_pattern(tmp_path, assets):
    out, _ = run(tmp_path, "transformers", assets, {"name": "partial", "partial": {"freeze_patterns": [r"\.attention\."]}})
    before, after = state(pretrained("transformers", assets)), state(trained("transformers", out))
    attention = [n for n in before if ".attention." in n]
    assert attention and same(before, after, attention)
    assert changed(before, after, [n for n in before if "intermediate.dense.weight" in n])
