import pytest
from helpers import KINDS, pretrained, run, state, trained


@pytest.mark.parametrize("kind", KINDS)
def test_full_trains_every_weight(tmp_path, kind, assets):
    out, metrics = run(tmp_path, kind, assets, {"name": "full"})
    before, after = state(pretrained(kind, assets)), state(trained(kind, out))
    weights = [n for n in before if n.endswith("weight") and "embeddings" not in n]
    assert all(not (before[n] == after[n]).all() for n in weights)
    assert metrics["parameters"]["trainable"] == metrics["parameters"]["total"]
