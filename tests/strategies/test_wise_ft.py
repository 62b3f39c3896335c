"""WiSE-FT: the weights of the start model and the fine-tuned one, mixed by alpha, chosen on source validation."""

import pytest
import torch
from helpers import image_target, tiny_config

from hf_transfer.config import ModelConfig
from hf_transfer.errors import UserError
from hf_transfer.models import load_backbone
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies.wise_ft import interpolate


@pytest.fixture(scope="module")
def ends(tmp_path_factory, tiny_timm, cifar_like):
    """A linear probe and a full fine-tuning of the same backbone on the same data (no bottleneck: one network)."""
    root = tmp_path_factory.mktemp("wise_ft")
    runs = {name: run_config(tiny_config(root / name, tiny_timm, cifar_like, strategy={"name": name}))
            for name in ("linear_probe", "full")}
    return root, runs


def _wise(root, cifar_like, start, out, alphas=(0.0, 0.5, 1.0)):
    target = image_target(root / "target")
    return tiny_config(out, root / "full" / "model", cifar_like, data={"target": {"dataset": str(target)}},
                       strategy={"name": "wise_ft", "wise_ft": {"start": str(start), "alphas": list(alphas)}})


def test_alpha_0_and_1_give_the_two_models_logits_exactly(ends):
    root, _ = ends
    labels = ["airplane", "bird", "cat"]
    start, tuned = (load_backbone(ModelConfig(name=str(root / n / "model")), "image", labels).eval()
                    for n in ("linear_probe", "full"))
    batch = {"pixel_values": torch.randn(4, 3, 32, 32)}
    mixed = load_backbone(ModelConfig(name=str(root / "full" / "model")), "image", labels).eval()
    with torch.no_grad():
        for alpha, end in ((0.0, start), (1.0, tuned)):
            mixed.load_state_dict(interpolate(start.state_dict(), tuned.state_dict(), alpha))
            assert torch.equal(mixed(batch), end(batch))
        mixed.load_state_dict(interpolate(start.state_dict(), tuned.state_dict(), 0.5))
        assert not torch.equal(mixed(batch), start(batch)) and not torch.equal(mixed(batch), tuned(batch))


def test_the_curve_ends_at_the_two_runs_and_alpha_is_chosen_on_source_validation(ends, cifar_like, tmp_path):
    root, runs = ends
    metrics = run_config(_wise(root, cifar_like, root / "linear_probe" / "model", tmp_path / "wise"))
    w = metrics["wise_ft"]
    curve = {p["alpha"]: p["sets"] for p in w["curve"]}
    assert list(curve) == [0.0, 0.5, 1.0] and {"validation", "test", "target"} <= set(curve[0.0])
    for alpha, name in ((0.0, "linear_probe"), (1.0, "full")):  # the ends are the two runs, scored the same way
        for split in ("validation", "test"):
            assert curve[alpha][split]["accuracy"] == pytest.approx(runs[name]["final"][split]["accuracy"])
            assert curve[alpha][split]["f1_macro"] == pytest.approx(runs[name]["final"][split]["f1_macro"])
    best = max(curve, key=lambda a: (curve[a]["validation"]["f1_macro"], a))
    assert w["alpha"] == best and w["chosen_on"] == "validation/f1_macro"
    assert metrics["final"]["test"]["accuracy"] == pytest.approx(curve[best]["test"]["accuracy"])
    assert "keeps the temperature" not in metrics["calibration"].get("note", "")  # fitted again for the mixed model
    assert (tmp_path / "wise" / "model" / "model.safetensors").is_file()


def test_a_start_model_of_another_network_is_one_line(ends, cifar_like, tmp_path, tiny_timm):
    root, _ = ends
    other = tmp_path / "hidden"
    run_config(tiny_config(other, tiny_timm, cifar_like, strategy={"name": "head", "head": {"hidden": [8]}}, train={"epochs": 1}))
    with pytest.raises(UserError) as e:
        run_config(_wise(root, cifar_like, other / "model", tmp_path / "bad"))
    assert str(e.value).startswith(f"strategy.wise_ft.start: {other / 'model'} is not the network of")
    assert "\n" not in str(e.value)


def test_the_adaptation_report_shows_the_alpha_curve(ends, cifar_like, tmp_path):
    from hf_transfer.reports import run_report

    root, _ = ends
    metrics = run_config(_wise(root, cifar_like, root / "linear_probe" / "model", tmp_path / "wise", alphas=(0.0, 1.0)))
    run_report.compare([tmp_path / "wise"], tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    curve = {p["alpha"]: p["sets"] for p in metrics["wise_ft"]["curve"]}
    assert f"chosen on validation/f1_macro: {metrics['wise_ft']['alpha']}):" in text
    for alpha in (0.0, 1.0):
        assert (f"| {alpha:g} | {curve[alpha]['validation']['f1_macro']:.3f} | {curve[alpha]['test']['accuracy']:.3f} | "
                f"{curve[alpha]['target']['accuracy']:.3f} |") in text
    gain = curve[metrics["wise_ft"]["alpha"]]["target"]["accuracy"] - curve[1.0]["target"]["accuracy"]
    assert f"target {gain:+.4f}" in text
