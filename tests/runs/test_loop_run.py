import json

import pytest
import torch
import yaml
from helpers import tiny_config
from safetensors.torch import load_file

from hf_transfer import run_folder
from hf_transfer.errors import UserError
from hf_transfer.runs.pipeline import run_config


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, tiny_timm, cifar_like):
    out = tmp_path_factory.mktemp("runs") / "image"
    cfg = tiny_config(out, tiny_timm, cifar_like, data={"extra_eval": {"shifted": {"dataset": str(cifar_like), "split": "test"}}})
    return out, cfg, run_config(cfg)


def test_run_directory_holds_everything(image_run):
    out, cfg, metrics = image_run
    for name in ("config.yaml", "metrics.json", "report.md", "train.log", "curves.png", "model/config.json",
                 "model/model.safetensors", "model/README.md"):
        assert (out / name).is_file(), name
    assert run_folder.latest_checkpoint(out) is not None
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["status"] == "finished" and set(saved["final"]) == {"validation", "test", "shifted"}
    assert saved["final"]["test"]["num_samples"] == 18 and len(saved["history"]) == 2
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"] == 2
    assert "| test | 18 |" in (out / "report.md").read_text()
    assert f"Peak memory: host {saved['timings']['peak_host_memory_mb']:,.0f} MB" in (out / "report.md").read_text()


def test_training_learns_the_tiny_task(image_run):
    _, _, metrics = image_run
    assert metrics["final"]["test"]["accuracy"] > 0.6  # chance is 1/3
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"] + 0.5


def test_best_epoch_weights_are_the_saved_model_with_its_temperature(image_run):
    """The saved model is the best epoch's, its last layer divided by the temperature fitted on validation."""
    out, _, metrics = image_run
    best = load_file(str(out / "checkpoints" / "best" / "model.safetensors"))
    model = load_file(str(out / "model" / "model.safetensors"))
    t = metrics["calibration"]["temperature"]
    differ = sorted(k for k, v in model.items() if not torch.equal(best[f"net.{k}"], v))
    assert t != 1.0 and len(differ) == 2 and differ[0].endswith(".bias") and differ[1].endswith(".weight")
    assert all(torch.allclose(best[f"net.{k}"] / t, model[k]) for k in differ)
    chosen = next(h for h in metrics["history"] if h["epoch"] == metrics["selected_epoch"])
    assert chosen["eval"]["validation"]["accuracy"] == max(h["eval"]["validation"]["accuracy"] for h in metrics["history"])


def test_non_empty_output_dir_is_refused_and_left_alone(image_run):
    out, cfg, _ = image_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match="already holds files; pass --overwrite"):
        run_config(cfg)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def _weights(out):
    return load_file(str(out / "model" / "model.safetensors"))


@pytest.mark.parametrize("task", ["image", "text"])
def test_resume_continues_exactly(tmp_path, task, tiny_timm, tiny_bert, cifar_like, sst2_like):
    model, data = (tiny_timm, cifar_like) if task == "image" else (tiny_bert, sst2_like)
    extra = {"data": {"eval_splits": ["validation"]}} if task == "text" else {}
    # dropout and augmentation on, so the random state must be restored too
    common = dict(model={"drop_rate": 0.2}, train={"epochs": 3, "load_best_at_end": False, "grad_accum_steps": 2}, **extra)
    whole = run_config(tiny_config(tmp_path / "whole", model, data, **common))
    steps = whole["history"][-1]["step"]
    stop = steps // 3 + 1  # inside the second epoch
    cut = tiny_config(tmp_path / "cut", model, data, **{**common, "train": {**common["train"], "stop_after_steps": stop}})
    first = run_config(cut)
    assert first["status"] == "stopped" and not (tmp_path / "cut" / "model").exists()
    resumed = run_config(tiny_config(tmp_path / "cut", model, data, **common), resume=True)
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["final"]["validation"] == whole["final"]["validation"]


def test_resume_refuses_a_changed_config_and_an_empty_dir(tmp_path, tiny_timm, cifar_like):
    cfg = tiny_config(tmp_path / "r", tiny_timm, cifar_like, train={"epochs": 2, "stop_after_steps": 1})
    run_config(cfg)
    with pytest.raises(UserError, match="--resume: the config differs .* in train.lr"):
        run_config(tiny_config(tmp_path / "r", tiny_timm, cifar_like, train={"epochs": 2, "lr": 0.5}), resume=True)
    with pytest.raises(UserError, match="has no checkpoint to resume from"):
        run_config(tiny_config(tmp_path / "empty", tiny_timm, cifar_like), resume=True)


def test_overwrite_replaces_the_run(tmp_path, tiny_timm, cifar_like):
    cfg = tiny_config(tmp_path / "o", tiny_timm, cifar_like, train={"epochs": 1})
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "old.txt").write_text("old")
    run_config(cfg, overwrite=True)
    assert not (tmp_path / "o" / "old.txt").exists() and (tmp_path / "o" / "metrics.json").is_file()


def test_sgd_step_schedule_and_lr_values(tmp_path, tiny_timm, cifar_like):
    from hf_transfer.config import TrainConfig
    from hf_transfer.runs.optim import make_scheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = make_scheduler(opt, TrainConfig(epochs=3, scheduler="step", step_epochs=[1, 2], step_gamma=0.1, lr=0.1), 4)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.1] * 4 + [0.01] * 4 + [0.001] * 4)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, TrainConfig(epochs=1, scheduler="cosine", warmup_ratio=0.25, lr=1.0), 8)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1 / 3) and lrs[2] == pytest.approx(1.0) and lrs[-1] < 0.1


@pytest.mark.parametrize("task", ["image", "text"])
def test_test_sets_scored_once_at_the_end_give_the_same_model_and_scores(tmp_path, task, tiny_timm, tiny_bert,
                                                                        cifar_like, text_like):
    """train.test_during_training false: only validation during training, the test sets once on the kept
    weights; the eval loaders have their own generators, so the model and every final score are those of the run
    that scored the test sets at each epoch (dropout on: a shifted random stream would show)."""
    model, data = (tiny_timm, cifar_like) if task == "image" else (tiny_bert, text_like)
    common = dict(model={"drop_rate": 0.2}, data={"extra_eval": {"shifted": {"dataset": str(data), "split": "test"}}})
    every = run_config(tiny_config(tmp_path / "every", model, data, train={"epochs": 3}, **common))
    once = run_config(tiny_config(tmp_path / "once", model, data, train={"epochs": 3, "test_during_training": False},
                                  **common))
    a, b = _weights(tmp_path / "every"), _weights(tmp_path / "once")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert once["final"] == every["final"] and list(once["final"]) == ["validation", "test", "shifted"]
    assert once["calibration"]["temperature"] == every["calibration"]["temperature"]
    scored = [sorted(h["eval"]) for h in once["history"]]
    assert scored == [sorted(once["final"]) if h["epoch"] == once["selected_epoch"] else ["validation"]
                      for h in once["history"]]
    assert len(once["history"]) == 3 and all(len(h["eval"]) == 3 for h in every["history"])
