"""Every run kind goes through the same start and the same finish (runs/pipeline.py, runs/lifecycle.py), and a new kind is one
module plus a line in the registry: here a kind defined in this file (the backbone with its new head, scored
untrained: a "no transfer" control) runs, writes the same outputs and pushes like the others."""

import sys
import time

import pytest
from helpers import FakeApi, tiny_config

from hf_transfer.config import apply_overrides
from hf_transfer.runs import lifecycle, outputs, pipeline


def run(cfg, strategy, start):
    """A run kind: data and model, the folder, the model scored as loaded, then the common finish."""
    from hf_transfer.data.loaders import build_loaders
    from hf_transfer.data.splits import build_splits
    from hf_transfer.models import count_parameters, load_backbone
    from hf_transfer.runs.machine import environment, fresh_accelerator
    from hf_transfer.runs.scoring import score_sets

    splits = build_splits(cfg.data, cfg.modality, cfg.train.seed)
    model = load_backbone(cfg.model, splits.modality, splits.label_names)
    lifecycle.open_folder(start, cfg)
    accelerator = fresh_accelerator()
    loaders = build_loaders(splits, model, cfg.data, 8, 16, cfg.train.seed, augment={})
    tick = time.perf_counter()
    logits = {}
    results, _ = score_sets(model.eval(), loaders.evals, accelerator, splits.task, splits.label_names, prepare=loaders.on_device,
                               logits_out=logits)
    entry = {"epoch": 1, "step": 0, "train_loss": None, "train_seconds": 0.0, "eval": results}
    metrics = outputs.metrics(
        cfg, splits, strategy, model_name=cfg.model.name, library=model.library, model=model, train_samples=0,
        data_pipeline=loaders.pipeline, domains={}, selected_epoch=1, selected_by="untrained", steps=outputs.NO_STEPS,
        final=results, history=[entry], parameters={"trainable": 0, "total": count_parameters(model)[1]},
        timings={"train_seconds": 0.0, "eval_seconds": time.perf_counter() - tick}, environment=environment(accelerator),
        warnings=splits.warnings)
    return outputs.close(start, cfg, metrics, logits,
                         lambda folder, temperature: model.save_pretrained(folder, image_size=cfg.data.image_size))

@pytest.fixture
def untrained_kind(monkeypatch):
    """The kind above under the name "untrained", and a strategy that runs as it."""
    from hf_transfer.strategies import REGISTRY, Strategy, register

    monkeypatch.setitem(pipeline.KINDS, "untrained", sys.modules[__name__])

    @register("untrained_control")
    class Untrained(Strategy):
        run_kind = "untrained"

    yield
    REGISTRY.pop("untrained_control")


def _spied(monkeypatch) -> list:
    """The pipeline steps as they are called."""
    calls = []
    for step in ("start", "open_folder", "finish"):
        real = getattr(lifecycle, step)
        monkeypatch.setattr(lifecycle, step, lambda *a, _real=real, _step=step, **k: (calls.append(_step), _real(*a, **k))[1])
    return calls


@pytest.mark.parametrize("strategy", ["full", "frozen_logreg", "untrained_control"])
def test_each_kind_starts_and_finishes_the_same_way(strategy, untrained_kind, tmp_path, tiny_timm, cifar_like, monkeypatch):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    calls = _spied(monkeypatch)
    cfg = tiny_config(tmp_path / "run", tiny_timm, cifar_like, strategy={"name": strategy}, train={"epochs": 1})
    metrics = pipeline.run_config(apply_overrides(cfg, ["hub.push_to_hub=true", "hub.repo_id=me/run"]))
    assert calls == ["start", "open_folder", "finish"] and metrics["strategy"] == strategy
    outputs = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.yaml", "metrics.json", "report.md", "train.log", "model"} <= outputs
    assert (tmp_path / "run" / "model" / "README.md").is_file()  # the card
    (_, _, _), (_, repo, files) = FakeApi.calls
    assert repo == "me/run" and {"report.md", "metrics.json", "config.yaml", "README.md"} <= set(files)


def test_a_strategy_of_an_unknown_kind_is_refused_in_one_line(tmp_path, tiny_timm, cifar_like):
    from hf_transfer.errors import UserError
    from hf_transfer.strategies import REGISTRY, Strategy, register

    @register("nowhere")
    class Nowhere(Strategy):
        run_kind = "teleport"

    try:
        with pytest.raises(UserError, match="strategy.name: nowhere runs as 'teleport', which is not a run kind"):
            pipeline.run_config(tiny_config(tmp_path / "run", tiny_timm, cifar_like, strategy={"name": "nowhere"}))
        assert not (tmp_path / "run").exists()
    finally:
        REGISTRY.pop("nowhere")
