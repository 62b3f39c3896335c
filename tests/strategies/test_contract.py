"""The contract every registered strategy keeps, on a tiny timm and a tiny BERT backbone.

A strategy that trains in the loop: it trains, its saved model/ reloads and scores the test set as the
run reported, and a run stopped mid-epoch and resumed ends with bit-identical weights. A fitted
strategy (no loop): it fits, and its saved model reloads and scores as reported. The cases come
from the registry, so a new strategy is covered by registering it (and, if it needs something
the others do not, a line in `_values`).
"""

from __future__ import annotations

import pytest
import torch
from helpers import KINDS, FakeApi, image_target, text_target, tiny_config
from safetensors.torch import load_file

from hf_transfer.config import apply_overrides
from hf_transfer.runs.pipeline import run_config
from hf_transfer.strategies import REGISTRY

TEXT_ONLY = {name for name, cls in REGISTRY.items() if getattr(cls, "modalities", ("image", "text")) == ("text",)}


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_timm, tiny_bert, cifar_like, text_like):
    """Per kind: (backbone, source data, target data, a trained source_only model with a target domain),
    the last being the teacher of distill and the starting point of the post-hoc methods and self_training."""
    root = tmp_path_factory.mktemp("contract")
    made = {}
    for kind, model, source, make_target in (("timm", tiny_timm, cifar_like, image_target),
                                             ("transformers", tiny_bert, text_like, text_target)):
        target = make_target(root / f"target_{kind}")
        source_run = root / f"source_{kind}"
        run_config(tiny_config(source_run, model, source, data={"target": {"dataset": str(target), "labelled_samples": 6}},
                          strategy={"name": "source_only"}, train={"batch_size": 8, "epochs": 2}))
        made[kind] = (model, source, target, source_run / "model")
    return made


def _values(name: str, kind: str, world) -> dict:
    """The config sections a strategy needs besides the tiny defaults."""
    model, source, target, trained = world[kind]
    cls = REGISTRY[name]
    values = {"model": {"name": str(model)}, "strategy": {"name": name}, "train": {"batch_size": 8, "epochs": 2,
                                                                                    "load_best_at_end": False}}
    posthoc = cls.run_kind == "posthoc"
    if cls.uses_target or cls.train_on != "source" or posthoc:
        values["data"] = {"target": {"dataset": str(target), "labelled_samples": 6}}
    if posthoc or name in ("self_training", "target_finetune"):
        values["model"]["name"] = str(trained)  # they start from a trained source model
    if name == "wise_ft":
        values["strategy"]["wise_ft"] = {"start": str(trained)}  # the same network (here the same weights)
    if name == "distill":
        values["strategy"]["distill"] = {"teacher": str(trained)}
    if name == "lora":
        values["strategy"]["lora"] = {"r": 2}
    if name == "setfit":  # a sentence-embedding body: pooled over its tokens; a few pairs
        values["model"]["pooling"] = "mean"
        values["strategy"]["setfit"] = {"iterations": 1, "batch_size": 4}
    return values


def _config(out, name, kind, world, **train_values):
    values = _values(name, kind, world)
    values["train"].update(train_values)
    model = values.pop("model")
    return tiny_config(out, model.pop("name"), world[kind][1], model=model, **values)


def _reloaded_test_scores(run, cfg) -> dict:
    """The test-set scores of the saved model/, loaded as a user would (a fresh process's view)."""
    from hf_transfer.config import ModelConfig
    from hf_transfer.data.loaders import build_loaders
    from hf_transfer.data.splits import build_splits
    from hf_transfer.models import load_backbone
    from hf_transfer.runs.machine import fresh_accelerator
    from hf_transfer.runs.scoring import score_sets

    splits = build_splits(cfg.data, cfg.modality, cfg.train.seed)
    if (run / "model" / "tfidf.json").is_file():  # tfidf_logreg: vocabulary and regression, no pickle
        from hf_transfer.metrics import classification_metrics
        from hf_transfer.runs.logreg import load_tfidf

        pipeline, _ = load_tfidf(run / "model")
        test = splits.evals["test"]
        column = next(c for c in test.column_names if c != "label")
        return classification_metrics(pipeline.predict(test[column]).tolist(), test["label"], splits.label_names)
    model = load_backbone(ModelConfig(name=str(run / "model")), splits.modality, splits.label_names)
    loaders = build_loaders(splits, model, cfg.data, 8, 16, cfg.train.seed, augment={})
    results, _ = score_sets(model.eval(), {"test": loaders.evals["test"]}, fresh_accelerator(), splits.task, splits.label_names,
                               prepare=loaders.on_device)
    return results["test"]


def _final_weights(run) -> dict:
    steps = sorted((run / "checkpoints").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    return load_file(str(steps[-1] / "model.safetensors"))


CASES = [(name, kind) for name in REGISTRY for kind in KINDS if not (name in TEXT_ONLY and kind == "timm")]


@pytest.mark.slow
@pytest.mark.parametrize("name, kind", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_every_strategy_trains_saves_reloads_pushes_and_resumes_exactly(name, kind, world, tmp_path, monkeypatch):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    cfg = apply_overrides(_config(tmp_path / "whole", name, kind, world), ["hub.push_to_hub=true", "hub.repo_id=me/run"])
    metrics = run_config(cfg)
    assert metrics["status"] == "finished" and metrics["strategy"] == name
    # every run kind ends the same way: the same outputs, and the push (the model, its card, the report)
    assert {"config.yaml", "metrics.json", "report.md", "model"} <= {p.name for p in (tmp_path / "whole").iterdir()}
    (_, _, private), (_, repo, files) = FakeApi.calls
    model_files = {p.name for p in (tmp_path / "whole" / "model").iterdir()}
    assert repo == "me/run" and not private and model_files | {"report.md", "metrics.json", "config.yaml"} <= set(files)
    reloaded = _reloaded_test_scores(tmp_path / "whole", cfg)
    assert reloaded["accuracy"] == pytest.approx(metrics["final"]["test"]["accuracy"])
    if "loss" in reloaded:
        assert reloaded["loss"] == pytest.approx(metrics["final"]["test"]["loss"], rel=1e-4, abs=1e-5)
    if REGISTRY[name].run_kind != "loop":
        return  # no loop, nothing to resume
    steps_per_epoch = metrics["steps"]["per_epoch"]
    # inside the second epoch (an epoch of one step: after the first)
    stop = steps_per_epoch + max(1, steps_per_epoch // 2) if steps_per_epoch > 1 else 1
    part = _config(tmp_path / "part", name, kind, world, stop_after_steps=stop)
    assert run_config(part)["status"] == "stopped"
    run_config(_config(tmp_path / "part", name, kind, world), resume=True)
    whole, resumed = _final_weights(tmp_path / "whole"), _final_weights(tmp_path / "part")
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_a_strategy_registered_from_a_test_file_is_covered(world, tmp_path):
    """Adding a strategy is one file: an options dataclass (with its checks) and a class with hooks, registered
    from anywhere; the config gets its section, the loop and the contract pick it up."""
    from dataclasses import dataclass

    from hf_transfer.config import apply_overrides, strategy_config_class
    from hf_transfer.errors import ConfigError
    from hf_transfer.fields import option
    from hf_transfer.strategies import Strategy, register

    @dataclass
    class ScaleConfig:
        factor: float = option(0.5, "Multiply the task loss by this.")

        def rules(self):
            return [("factor", self.factor > 0, "must be positive")]

    @register("scaled_loss_for_test", config=ScaleConfig)
    class ScaledLoss(Strategy):
        def loss(self, step):
            return step.loss * self.cfg.factor  # its own section, strategy.scaled_loss_for_test

    try:
        cfg = _config(tmp_path / "run", "scaled_loss_for_test", "timm", world)
        assert cfg.strategy.scaled_loss_for_test == ScaleConfig(0.5)
        with pytest.raises(ConfigError, match=r"^strategy\.scaled_loss_for_test\.factor: must be positive$"):
            apply_overrides(cfg, ["strategy.scaled_loss_for_test.factor=0"])
        metrics = run_config(apply_overrides(cfg, ["strategy.scaled_loss_for_test.factor=0.25"]))
        assert metrics["strategy"] == "scaled_loss_for_test" and metrics["status"] == "finished"
        full = run_config(_config(tmp_path / "full", "full", "timm", world))
        assert metrics["history"][0]["train_loss"] < full["history"][0]["train_loss"]  # the hook ran
    finally:
        del REGISTRY["scaled_loss_for_test"]
    assert not hasattr(strategy_config_class()(), "scaled_loss_for_test")  # and its section went with it
