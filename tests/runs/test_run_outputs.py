"""What a run leaves for users: card metadata that matches metrics.json, trackers, checkpoints."""

import json

import pytest
from helpers import tiny_config
from huggingface_hub import ModelCard

from hf_transfer import run_folder
from hf_transfer.runs.pipeline import run_config


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory, tiny_vit, cifar_like):
    out = tmp_path_factory.mktemp("runs") / "vit"
    cfg = tiny_config(out, tiny_vit, cifar_like, data={"image_size": None},
                      train={"epochs": 2, "mixed_precision": "bf16", "log_with": "tensorboard",
                             "checkpoint_every_steps": 2, "keep_checkpoints": 2})
    return out, run_config(cfg)


def test_transformers_image_model_trains_in_bf16_on_cpu(vit_run):
    out, metrics = vit_run
    assert metrics["library"] == "transformers" and metrics["environment"]["mixed_precision"] == "bf16"
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "airplane", "1": "bird", "2": "cat"}
    assert (out / "model" / "preprocessor_config.json").is_file()


def test_card_metadata_carries_the_metrics(vit_run):
    out, metrics = vit_run
    card = ModelCard.load(out / "model" / "README.md")
    results = {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}
    for split, m in metrics["final"].items():
        for key in ("accuracy", "f1_macro", "f1_weighted"):
            assert results[(split, key)] == pytest.approx(m[key], abs=1e-6)
    assert card.data.library_name == "transformers" and "hf-transfer" in card.data.tags
    validation = next(r for r in card.data.eval_results if r.dataset_name == "validation")
    assert validation.dataset_split == "train (held-out part)" and "carved" not in validation.dataset_type
    assert "More information needed" not in card.text and "| test | 18 |" in card.text


def test_tensorboard_events_are_written(vit_run):
    out, _ = vit_run
    assert list(out.rglob("events.out.tfevents*"))


def test_only_the_newest_checkpoints_are_kept(vit_run):
    out, metrics = vit_run
    kept = run_folder.checkpoints(out)
    assert len(kept) == 2 and kept[-1].name == f"step_{metrics['history'][-1]['step']:08d}"


def test_every_run_kind_writes_the_one_metrics_schema(tmp_path, tiny_timm, cifar_like):
    """metrics.json is built by runs/outputs.metrics for every kind: a loop, a fitted and a post-hoc run have exactly
    the schema's keys, in its order, then the sections their kind adds."""
    from helpers import da_config, image_target

    from hf_transfer.runs.outputs import SCHEMA

    target = image_target(tmp_path / "target")
    loop = run_config(da_config(tmp_path / "loop", tiny_timm, cifar_like, target, "source_only", epochs=1))
    fitted = run_config(tiny_config(tmp_path / "fitted", tiny_timm, cifar_like, strategy={"name": "frozen_logreg"}))
    posthoc = run_config(da_config(tmp_path / "posthoc", tmp_path / "loop" / "model", cifar_like, target, "adabn"))
    kinds = {"loop": (loop, set()), "fitted": (fitted, {"baseline"}), "posthoc": (posthoc, {"posthoc"})}
    for kind, (metrics, own) in kinds.items():
        written = json.loads((tmp_path / kind / run_folder.METRICS).read_text())
        assert written == json.loads(json.dumps(metrics))  # the returned dict is the file
        assert tuple(written)[:len(SCHEMA)] == SCHEMA, kind
        assert set(written) - set(SCHEMA) >= own, kind
        assert written["timings"]["total_seconds"] > 0 and written["calibration"]["method"], kind
