"""No method reads the target domain's labels unless it says so (`Strategy.reads_target_labels`, flagged in the
adaptation report): with the target train *and* test labels scrambled, every other method that uses a target
domain trains the same weights, bit for bit, and keeps the same epoch."""

import datasets
import pytest
from helpers import da_config, image_target, tiny_config
from safetensors.torch import load_file

from hf_transfer.config import StrategyConfig
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import REGISTRY, get_strategy


def _scramble(labels):
    return [(y + 1) % 3 for y in labels][::-1]


def _uses_a_target(cls) -> bool:
    return cls.uses_target or cls.run_kind == "posthoc" or cls.train_on != "source" or cls.name == "source_only"


ADAPTATION = [name for name, cls in REGISTRY.items() if _uses_a_target(cls)]
BLIND = [name for name in ADAPTATION if not get_strategy(StrategyConfig(name=name)).reads_target_labels]


def test_every_method_that_trains_on_target_labels_says_so():
    assert {"source_only", "dann", "cdan", "mmd", "mcc", "self_training", "adabn", "bbse", "mlls"} <= set(BLIND)
    for name in set(ADAPTATION) - set(BLIND):
        assert get_strategy(StrategyConfig(name=name)).reads_target_labels.startswith(("training: ", "priors: "))
    assert all(REGISTRY[name].train_on == "source" for name in BLIND)
    given = StrategyConfig(name="mlls")
    given.mlls.target_priors = [0.2, 0.3, 0.5]
    assert get_strategy(given).reads_target_labels.startswith("priors: ")


@pytest.fixture(scope="module")
def targets(tmp_path_factory, tiny_timm, cifar_like):
    root = tmp_path_factory.mktemp("target_labels")
    target = image_target(root / "target")
    scrambled = image_target(root / "scrambled", train_labels=_scramble, test_labels=_scramble)
    true, fake = datasets.load_from_disk(str(target)), datasets.load_from_disk(str(scrambled))
    assert all(true[s]["label"] != fake[s]["label"] and true[s]["image"] == fake[s]["image"] for s in ("train", "test"))
    for seed in (0, 1):  # seed 1: wise_ft's other end (the same network, other weights)
        run_config(da_config(root / f"source_only{seed}", tiny_timm, cifar_like, target, method="source_only", epochs=2,
                             seed=seed))
    return root, target, scrambled, root / "source_only0" / "model"


@pytest.mark.parametrize("method", BLIND)
def test_scrambled_target_labels_change_no_weight_and_no_choice(method, targets, tiny_timm, cifar_like):
    root, target, scrambled, source_model = targets
    model = source_model if REGISTRY[method].run_kind == "posthoc" else tiny_timm
    runs = {}
    for name, data in (("true", target), ("scrambled", scrambled)):
        out = root / method / name
        strategy = {"name": method, "wise_ft": {"start": str(root / "source_only1" / "model")}}
        # 4 target validation rows: their labels are scrambled too (they are target train rows)
        target = {"dataset": str(data), "labelled_samples": 6, "validation_samples": 4}
        runs[name] = (out, run_config(tiny_config(out, model, cifar_like, data={"target": target}, strategy=strategy,
                                                  train={"batch_size": 6, "epochs": 2})))
    (a, true), (b, fake) = runs["true"], runs["scrambled"]
    weights = load_file(str(a / "model" / "model.safetensors")), load_file(str(b / "model" / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys() and all((weights[0][k] == weights[1][k]).all() for k in weights[0])
    assert fake["selected_epoch"] == true["selected_epoch"]
    assert "target_validation" in fake["final"] and "target_validation" in true["final"]
    assert fake["final"]["test"] == true["final"]["test"] and fake["calibration"]["temperature"] == \
        true["calibration"]["temperature"]
