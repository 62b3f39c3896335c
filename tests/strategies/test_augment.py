import pytest
import torch
from helpers import KINDS, pretrained, run, strategy_cfg

from hf_transfer.strategies import get_strategy
from hf_transfer.strategies.base import Step


def test_mixup_mixes_images_and_targets(assets):
    s = get_strategy(strategy_cfg(name="augment", augment={"mixup": 1.0, "label_smoothing": 0.1}))
    s.setup(pretrained("timm", assets))
    torch.manual_seed(0)
    batch = {"pixel_values": torch.randn(4, 3, 8, 8), "labels": torch.tensor([0, 1, 2, 0])}
    original = batch["pixel_values"].clone()  # timm mixes in place
    step = Step(batch)
    s.mix(step)
    assert step.soft_targets.shape == (4, 3) and torch.allclose(step.soft_targets.sum(-1), torch.ones(4))
    assert not torch.equal(step.batch["pixel_values"], original)


def test_label_smoothing_targets_for_text(assets):
    s = get_strategy(strategy_cfg(name="augment", augment={"label_smoothing": 0.3}))
    s.setup(pretrained("transformers", assets))
    step = Step({"input_ids": torch.zeros(2, 4, dtype=torch.long), "labels": torch.tensor([0, 2])})
    s.mix(step)
    assert torch.allclose(step.soft_targets, torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]))


def test_rand_augment_and_erasing_reach_the_transform():
    s = get_strategy(strategy_cfg(name="augment", augment={"auto_augment": "rand-m9-mstd0.5", "random_erasing": 0.25}))
    assert s.data_augment() == {"auto_augment": "rand-m9-mstd0.5", "re_prob": 0.25}


@pytest.mark.parametrize("kind", KINDS)
def test_runs_end_to_end(tmp_path, kind, assets):
    aug = {"mixup": 0.2, "cutmix": 1.0, "auto_augment": "rand-m9-mstd0.5", "random_erasing": 0.25,
           "label_smoothing": 0.1}
    _, metrics = run(tmp_path, kind, assets, {"name": "augment", "augment": aug})
    assert metrics["status"] == "finished"
