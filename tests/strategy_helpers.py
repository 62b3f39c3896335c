"""Shared by the strategy tests: one tiny run on a timm or a transformers backbone."""

from __future__ import annotations

import torch
from conftest import tiny_config

from hf_transfer.backbones import load_backbone
from hf_transfer.config import ModelConfig
from hf_transfer.train import train

KINDS = ["timm", "transformers"]
LABELS = {"timm": ["airplane", "bird", "cat"], "transformers": ["0", "1", "2"]}


def config(tmp_path, kind, assets, strategy: dict, name="run", **sections):
    model, data = assets[kind]
    extra = {"data": {"eval_splits": ["validation"]}} if kind == "transformers" else {}
    train_section = {"load_best_at_end": False, **sections.pop("train", {})}
    return tiny_config(tmp_path / name, model, data, strategy=strategy, train=train_section, **extra, **sections)


def run(tmp_path, kind, assets, strategy: dict, name="run", **sections):
    cfg = config(tmp_path, kind, assets, strategy, name, **sections)
    return tmp_path / name, train(cfg)


def pretrained(kind, assets):
    """The backbone as loaded before training (its new head is random)."""
    return load_backbone(ModelConfig(name=str(assets[kind][0])), "image" if kind == "timm" else "text", LABELS[kind])


def trained(kind, out):
    return load_backbone(ModelConfig(name=str(out / "model")), "image" if kind == "timm" else "text", LABELS[kind])


def state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict, names) -> bool:
    return all(torch.equal(a[n], b[n]) for n in names)


def changed(a: dict, b: dict, names) -> bool:
    return all(not torch.equal(a[n], b[n]) for n in names if a[n].is_floating_point())


def strategy_cfg(**values):
    """A validated StrategyConfig from plain values, e.g. strategy_cfg(name="l2sp", l2sp={"alpha": 0.1})."""
    from hf_transfer.config import from_dict

    return from_dict({"strategy": values}).strategy
