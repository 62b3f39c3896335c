"""Bad input, case by case, as a new user would give it: each one ends in one line that names the
field or file and a non-zero exit (or, where the input is usable, in a run that says what it did),
and nothing the user had is changed."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from helpers import WORDS, hf_transfer_cmd, tiny_config
from helpers import cli as _inproc
from helpers import one_error_line as _one_error_line

from hf_transfer import run_folder
from hf_transfer.runs.pipeline import run_config


def _run(args, env):
    return subprocess.run(hf_transfer_cmd(*args), env=env, capture_output=True, text=True, timeout=600)


def _text_csv(root, labels_by_split: dict):
    """A text dataset as csv files, one per split: sentences from WORDS, the labels given."""
    root.mkdir(parents=True)
    for split, labels in labels_by_split.items():
        text = [" ".join(WORDS[i % 3][j % 5] for j in range(i, i + 4)) for i in range(len(labels))]
        pd.DataFrame({"text": text, "label": labels}).to_csv(root / f"{split}.csv", index=False)
    return root


def test_single_class_training_data_is_refused(tmp_path, capsys, tiny_bert):
    data = _text_csv(tmp_path / "one_class", {"train": ["spam"] * 12, "test": ["spam"] * 4})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "one", "output_dir": str(tmp_path / "out"), "model": {"name": str(tiny_bert)},
                                   "data": {"dataset": str(data), "max_length": 16}, "train": {"epochs": 1}}))
    line = _one_error_line(_inproc(["run", str(cfg)], capsys))
    assert "data.label_column: the training set has one class ('spam'); a classifier needs at least two" in line
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_integer_labels_with_gaps_become_one_class_per_value(tmp_path, tiny_bert):
    values = [1, 5, 10, 100, 1000]
    data = _text_csv(tmp_path / "gaps", {"train": values * 4, "test": values})
    metrics = run_config(tiny_config(tmp_path / "out", tiny_bert, data, train={"epochs": 1}))
    assert metrics["label_names"] == [str(v) for v in values]  # 5 classes named by value, not 1,001
    saved = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert saved["id2label"] == {str(i): str(v) for i, v in enumerate(values)}


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"bare {constant} in JSON")
    return json.loads(text, parse_constant=refuse)


def test_a_diverged_run_says_so_keeps_its_checkpoints_and_saves_no_model(tmp_path, capsys, tiny_timm, cifar_like):
    out = tmp_path / "run"
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)
    line = _one_error_line(_inproc(["run", cfg, "--lr", "1e30", "--set", "train.checkpoint_every_steps=1"], capsys))
    assert re.search(r"loss became (NaN|[0-9.e+]+) at step \d+: the run diverged; lower train.lr \(1e\+30\)", line)
    written = _strict((out / "metrics.json").read_text())  # strict JSON: a NaN loss is null
    assert written["status"] == "diverged" and written["message"] in line
    assert not (out / "model").exists() and not (out / "report.md").exists()
    kept = sorted(p.name for p in (out / "checkpoints").glob("step_*"))
    assert all(int(name[5:]) < written["step"] for name in kept)  # only checkpoints from before the divergence
    report = _one_error_line(_inproc(["report", str(out), "-o", str(tmp_path / "report")], capsys))
    assert "the run diverged, so it has no model to report" in report
    huge = _one_error_line(_inproc(["run", cfg, "--lr", "1e3", "--overwrite", "--set", "train.max_loss=0.5"], capsys))
    assert "at step 1: the run diverged" in huge  # a finite loss above train.max_loss


def test_reports_stay_strict_json(tmp_path, tiny_timm, cifar_like):
    from hf_transfer.reports import run_report as report

    run_config(tiny_config(tmp_path / "out", tiny_timm, cifar_like, train={"epochs": 1}))
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    metrics["history"][-1]["train_loss"] = float("nan")  # e.g. a metrics.json written by an older version
    (tmp_path / "out" / "metrics.json").write_text(json.dumps(metrics))
    report.compare([tmp_path / "out"], tmp_path / "report")
    _strict((tmp_path / "report" / "report.json").read_text())


def _tiny_run_config(tmp_path, tiny_timm, cifar_like, out) -> str:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "tiny", "output_dir": str(out), "model": {"name": str(tiny_timm)},
                                   "data": {"dataset": str(cifar_like), "image_size": 32, "eval_splits": ["test"]},
                                   "train": {"epochs": 1, "batch_size": 8, "deterministic": True}}))
    return str(cfg)


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_resume_without_a_checkpoint_says_so(tmp_path, capsys, tiny_timm, cifar_like):
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (tmp_path / "missing", empty):
        line = _one_error_line(_inproc(["run", _tiny_run_config(tmp_path, tiny_timm, cifar_like, out), "--resume"], capsys))
        assert f"--resume: '{out}' has no checkpoint to resume from" in line and "run without --resume" in line
    assert not (tmp_path / "missing").exists() and not any(empty.iterdir())


def test_resume_of_a_recipe_starts_its_runs_not_started_even_when_it_has_one(tmp_path, capsys, tiny_timm, cifar_like):
    """--resume continues a sweep: a recipe of one run not started yet trains it (a config file's run would
    need a checkpoint), and the next --resume keeps it."""
    cfg = yaml.safe_load(Path(_tiny_run_config(tmp_path, tiny_timm, cifar_like, tmp_path / "sweep" / "only")).read_text())
    recipe = tmp_path / "one_run.py"
    recipe.write_text(f"def recipe():\n    return [{cfg!r}]\n")
    first = _inproc(["run", str(recipe), "--resume"], capsys)
    assert first.returncode == 0, first.stderr
    assert json.loads((tmp_path / "sweep" / "only" / "metrics.json").read_text())["status"] == "finished"
    again = _inproc(["run", str(recipe), "--resume"], capsys)
    assert again.returncode == 0 and "finished earlier, kept" in again.stderr


def test_resume_of_a_finished_run_with_another_config_is_refused(tmp_path, capsys, tiny_timm, cifar_like):
    out = tmp_path / "run"
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)
    assert _inproc(["run", cfg], capsys).returncode == 0
    before = _files(out)
    same = _inproc(["run", cfg, "--resume"], capsys)
    assert same.returncode == 0 and "finished earlier, kept" in same.stderr
    line = _one_error_line(_inproc(["run", cfg, "--resume", "--lr", "0.5"], capsys))
    assert f"--resume: '{out}' is a finished run and the config differs from its config.yaml in train.lr" in line
    assert _files(out) == before


def test_report_on_a_stopped_run_says_how_to_continue_it(tmp_path, capsys, tiny_timm, cifar_like):
    out = tmp_path / "run"
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)
    stopped = _inproc(["run", cfg, "--set", "train.stop_after_steps=2"], capsys)
    assert stopped.returncode == 0 and "continue with --resume" in stopped.stderr
    before = _files(out)
    line = _one_error_line(_inproc(["report", str(out), "-o", str(tmp_path / "report")], capsys))
    assert f"{out}: the run stopped before finishing (last checkpoint: step_00000002)" in line
    command = f"hf-transfer run {out / 'config.yaml'} --resume --set train.stop_after_steps=null"
    assert f"`{command}`" in line
    assert _files(out) == before
    assert _inproc(command.split()[1:], capsys).returncode == 0
    assert _inproc(["report", str(out), "-o", str(tmp_path / "report")], capsys).returncode == 0


def test_a_test_label_unseen_in_training_is_named_in_the_warnings_report_and_card(tmp_path, tiny_bert):
    data = _text_csv(tmp_path / "unseen", {"train": ["pos", "neg"] * 8, "test": ["pos", "neg", "meh", "meh"]})
    metrics = run_config(tiny_config(tmp_path / "out", tiny_bert, data, train={"epochs": 1}))
    line = "classes never seen in training, so never learned: 'meh' (2) of the 4 'test' samples"
    assert any(w.startswith(line) for w in metrics["warnings"])
    assert line in (tmp_path / "out" / "report.md").read_text()
    assert line in (tmp_path / "out" / "model" / "README.md").read_text()
    assert metrics["final"]["test"]["per_class_f1"]["meh"] == 0.0


def test_hub_ids_without_a_network_fail_at_once_in_offline_mode(tmp_path, cli_env, tiny_timm, cifar_like):
    env = {k: v for k, v in cli_env.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there: the Hub cannot be reached
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, tmp_path / "out")
    for flag, value, field in (("--model", "someone/missing-model", "model.name"),
                               ("--dataset", "someone/missing-data", "data.dataset")):
        result = _run(["run", cfg, flag, value], env)
        line = _one_error_line(result)
        assert line.startswith(f"hf-transfer: error: {field}: ") and value in line and "network" in line
        assert "cannot be reached: offline mode" in result.stderr
        assert "retry" not in result.stderr.lower()  # no retry loop before the error
    assert not (tmp_path / "out").exists()


def test_overwrite_keeps_the_old_run_when_the_new_one_fails_before_it_starts(tmp_path, capsys, tiny_bert):
    good = _text_csv(tmp_path / "good", {"train": ["pos", "neg"] * 6, "test": ["pos", "neg"]})
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "t", "output_dir": str(out), "model": {"name": str(tiny_bert)},
                                   "data": {"dataset": str(good), "max_length": 16}, "train": {"epochs": 1}}))
    assert _inproc(["run", str(cfg)], capsys).returncode == 0
    before = _files(out)
    # a value only checked once the run folder is made (the class count comes from the data)
    line = _one_error_line(_inproc(["run", str(cfg), "--set", "train.class_weights=[1,2,3]", "--overwrite"], capsys))
    assert "train.class_weights: 3 weights for 2 classes" in line
    assert _files(out) == before and not (tmp_path / ".run.replaced").exists()
    replaced = _inproc(["run", str(cfg), "--lr", "0.01", "--overwrite"], capsys)  # a run that starts replaces it
    assert replaced.returncode == 0 and _files(out) != before and not (tmp_path / ".run.replaced").exists()
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["lr"] == 0.01


def test_empty_or_missing_text_cells_are_dropped_with_a_count_or_refused(tmp_path, cli_env, tiny_bert):
    data = _text_csv(tmp_path / "holes", {"train": ["pos", "neg"] * 6, "test": ["pos", "neg"]})
    frame = pd.read_csv(data / "train.csv")
    frame.loc[[3, 7], "text"] = [None, "   "]
    frame.to_csv(data / "train.csv", index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "t", "output_dir": str(tmp_path / "out"), "model": {"name": str(tiny_bert)},
                                   "data": {"dataset": str(data), "max_length": 16}, "train": {"epochs": 1}}))
    what = f"2 of the 12 rows of {data}/train have an empty or missing text (rows 3, 7, counted from 0)"
    line = _one_error_line(_run(["run", str(cfg), "--set", "data.on_bad_rows=error"], cli_env))
    assert f"data.on_bad_rows: {what}; fix them, or set data.on_bad_rows: drop" in line
    assert not (tmp_path / "out").exists()  # refused before the run folder is made
    dropped = _run(["run", str(cfg)], cli_env)
    assert dropped.returncode == 0 and f"{what}: dropped (data.on_bad_rows: drop)" in dropped.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["train_samples"] + metrics["final"]["validation"]["num_samples"] == 10  # 12 rows, 2 dropped


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_step_then_resume_ends_exactly_like_an_uninterrupted_run(signum, tmp_path, tiny_timm, cifar_like,
                                                                              monkeypatch):
    from safetensors.torch import load_file

    from hf_transfer.errors import UserError

    def config(out):
        return tiny_config(out, tiny_timm, cifar_like, train={"epochs": 2, "batch_size": 8})

    whole = run_config(config(tmp_path / "whole"))
    real, calls = torch.nn.functional.cross_entropy, []
    at = random.Random(int(signum)).randint(2, 4)  # a seeded point inside the first epoch's steps

    def loss_then_signal(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            os.kill(os.getpid(), signum)  # arrives mid-step, before this step's loss
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", loss_then_signal)
    with pytest.raises(UserError, match=rf"^interrupted \({signal.Signals(signum).name}\) at step {at}; checkpoint saved"):
        run_config(config(tmp_path / "cut"))
    monkeypatch.undo()
    assert signal.getsignal(signum) is not None and len(calls) == at
    resumed = run_config(config(tmp_path / "cut"), resume=True)
    assert len(resumed["history"]) == len(whole["history"]) == 2
    for a, b in zip(resumed["history"], whole["history"]):
        assert a["train_loss"] == b["train_loss"] and a["eval"] == b["eval"]
    assert resumed["final"] == whole["final"]
    weights = [load_file(str(p / "model" / "model.safetensors")) for p in (tmp_path / "whole", tmp_path / "cut")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_checkpoint_cut_short_is_skipped_by_resume(tmp_path, cli_env, tiny_timm, cifar_like):
    whole, out = tmp_path / "whole", tmp_path / "cut"
    assert _run(["run", _tiny_run_config(tmp_path, tiny_timm, cifar_like, whole)], cli_env).returncode == 0
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)
    stopped = _run(["run", cfg, "--set", "train.checkpoint_every_steps=1", "--set", "train.stop_after_steps=2"], cli_env)
    assert stopped.returncode == 0 and sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step_00000001", "step_00000002"]  # no temporary folder left behind
    good = out / "checkpoints" / "step_00000002"
    for cut in (out / "checkpoints" / "step_00000003", out / "checkpoints" / ".writing-step_00000004"):
        shutil.copytree(good, cut)  # as a kill -9 leaves it: the weights half written, no trainer_state.json
        (cut / "trainer_state.json").unlink()
        weights = cut / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    resumed = _run(["run", cfg, "--resume", "--set", "train.checkpoint_every_steps=1", "--set",
                    "train.stop_after_steps=null"], cli_env)
    assert resumed.returncode == 0, resumed.stderr
    assert "skipping checkpoint step_00000003: incomplete" in resumed.stderr
    assert "resumed from" in resumed.stderr and "step_00000002" in resumed.stderr
    final = [json.loads((p / "metrics.json").read_text())["final"] for p in (whole, out)]
    assert final[0] == final[1]
    assert not (out / "checkpoints" / "step_00000003").exists()  # pruned with the next checkpoint


def test_zero_byte_and_corrupt_images_are_dropped_with_their_names_or_refused(tmp_path, cli_env, tiny_timm, image_folder):
    from PIL import Image

    data = tmp_path / "folder"
    shutil.copytree(image_folder, data)
    (data / "train" / "bird" / "empty.png").write_bytes(b"")
    (data / "train" / "cat" / "notes.png").write_text("not an image")
    Image.new("RGBA", (16, 16)).save(data / "train" / "cat" / "rgba.png")  # other modes are fine
    Image.new("L", (16, 16)).save(data / "train" / "bird" / "gray.png")
    Image.new("CMYK", (16, 16)).save(data / "train" / "airplane" / "cmyk.jpg")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "img", "output_dir": str(tmp_path / "out"), "model": {"name": str(tiny_timm)},
                                   "data": {"dataset": str(data), "image_size": 32}, "train": {"epochs": 1}}))
    line = _one_error_line(_run(["run", str(cfg), "--set", "data.on_bad_rows=error"], cli_env))
    assert re.search(r"data.on_bad_rows: 2 of the \d+ rows of .*/train have an unreadable image \(", line)
    assert "empty.png" in line and "notes.png" in line and not (tmp_path / "out").exists()
    dropped = _run(["run", str(cfg)], cli_env)
    assert dropped.returncode == 0, dropped.stderr
    assert "have an unreadable image" in dropped.stderr and "dropped (data.on_bad_rows: drop)" in dropped.stderr


def test_a_run_that_fails_before_its_first_step_leaves_no_folder(tmp_path, capsys, tiny_bert):
    data = _text_csv(tmp_path / "data", {"train": ["pos", "neg"] * 6, "test": ["pos", "neg"]})
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "t", "output_dir": str(out), "model": {"name": str(tiny_bert)},
                                   "data": {"dataset": str(data), "max_length": 16},
                                   "train": {"epochs": 1, "class_weights": [1, 2, 3]}}))  # checked after the folder is made
    assert "train.class_weights: 3 weights for 2 classes" in _one_error_line(_inproc(["run", str(cfg)], capsys))
    assert not out.exists()
    out.mkdir()  # a folder the user made, empty: emptied again, not removed
    _one_error_line(_inproc(["run", str(cfg)], capsys))
    assert out.is_dir() and not any(out.iterdir())
    assert _inproc(["run", str(cfg), "--set", "train.class_weights=null"], capsys).returncode == 0  # no --overwrite needed


BAD_VALUES = [  # (command-line arguments, the field the one line must name)
    (["--lr", "-1"], "train.lr"), (["--lr", "nan"], "train.lr"), (["--lr", "inf"], "train.lr"),
    (["--epochs", "0"], "train.epochs"), (["--batch-size", "0"], "train.batch_size"),
    (["--set", "train.warmup=0.1"], "train.warmup"), (["--set", "train.epochs=three"], "train.epochs"),
    (["--set", "strategy.name=fine_tuning"], "strategy.name"), (["--set", "train.mixed_precision=fp8"], "train.mixed_precision"),
    *([(["--mixed-precision", "fp16"], "train.mixed_precision")] if not torch.cuda.is_available() else []),  # fp16 needs a GPU
    (["--set", "data.label_column=category"], "data.label_column"), (["--set", "data.image_column=picture"], "data.image_column"),
    (["--model", "./no/such/model"], "model.name"), (["--dataset", "./no/such/data"], "data.dataset"),
    (["--set", "model.kwargs={trust_remote_code: true}"], "model.kwargs"),
]


@pytest.mark.parametrize("args,field", BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_a_bad_value_stops_with_one_line_naming_its_field(args, field, tmp_path, tiny_timm, cifar_like, capsys):
    out = tmp_path / "out"
    line = _one_error_line(_inproc(["run", _tiny_run_config(tmp_path, tiny_timm, cifar_like, out), *args], capsys))
    assert f"error: {field}" in line or f" {field}:" in line, line
    assert not out.exists()


def test_malformed_yaml_names_the_file(tmp_path, capsys):
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("train:\n  epochs: [1\n")
    line = _one_error_line(_inproc(["run", str(cfg)], capsys))
    assert str(cfg) in line or "broken.yaml" in line


def test_a_folder_in_use_is_refused_and_left_as_it_was(tmp_path, tiny_timm, cifar_like, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    line = _one_error_line(_inproc(["run", _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)], capsys))
    assert f"output_dir: '{out}' already holds files" in line
    assert _files(out) == {Path("notes.txt"): b"mine"}


def test_resume_of_an_unfinished_run_with_another_config_is_refused(tmp_path, capsys, tiny_timm, cifar_like):
    out = tmp_path / "run"
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)
    assert _inproc(["run", cfg, "--set", "train.stop_after_steps=2"], capsys).returncode == 0
    before = _files(out)
    line = _one_error_line(_inproc(["run", cfg, "--resume", "--batch-size", "4"], capsys))
    assert "--resume: the config differs from the run's config.yaml in train.batch_size" in line
    assert _files(out) == before


def test_push_without_a_network_fails_in_one_line_and_keeps_the_run(tmp_path, cli_env, tiny_timm, cifar_like):
    out = tmp_path / "run"
    result = _run(["run", _tiny_run_config(tmp_path, tiny_timm, cifar_like, out), "--push-to-hub", "someone/model"],
                  cli_env)
    line = _one_error_line(result)
    assert "push to someone/model failed" in line and "the run directory is unchanged" in line
    assert json.loads((out / "metrics.json").read_text())["status"] == "finished" and (out / "model").is_dir()


def test_string_labels_keep_their_names(tmp_path, tiny_bert):
    data = _text_csv(tmp_path / "strings", {"train": ["joy", "anger", "fear"] * 4, "test": ["joy", "anger", "fear"]})
    metrics = run_config(tiny_config(tmp_path / "out", tiny_bert, data, train={"epochs": 1}))
    assert metrics["label_names"] == ["anger", "fear", "joy"]
    saved = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert saved["id2label"] == {"0": "anger", "1": "fear", "2": "joy"}


_KILLER = """
import os, signal, sys, torch
what, at = sys.argv[1], int(sys.argv[2])
calls = []
def kill_on_call(function):
    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:  # SIGKILL: no handler runs, nothing is flushed
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return wrapped
if what == "step":
    torch.optim.AdamW.step = kill_on_call(torch.optim.AdamW.step)
else:  # inside a checkpoint's writing (3 tensor files each: model, optimizer, RNG), at some file of it
    import safetensors.torch
    safetensors.torch.save_file = kill_on_call(safetensors.torch.save_file)
from hf_transfer.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("what,seed", [("step", 0), ("step", 2), ("checkpoint", 0), ("checkpoint", 2)])
def test_sigkill_at_a_seeded_point_then_resume_ends_like_an_uninterrupted_run(what, seed, tmp_path, cli_env, tiny_timm,
                                                                               cifar_like):
    whole, out = tmp_path / "whole", tmp_path / "killed"
    every_step = ["--set", "train.checkpoint_every_steps=1"]
    assert _run(["run", _tiny_run_config(tmp_path, tiny_timm, cifar_like, whole), *every_step], cli_env).returncode == 0
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)
    # a seeded point past the first complete checkpoint: an optimizer step of the 5, a tensor file of the ~20
    at = random.Random(f"{what}{seed}").randint(*((2, 5) if what == "step" else (4, 12)))
    killed = subprocess.run([sys.executable, "-c", _KILLER, what, str(at), "run", cfg, *every_step], env=cli_env,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL
    assert all(run_folder.is_complete(p) for p in (out / "checkpoints").glob("step_*"))  # nothing half-written picked up
    resumed = _run(["run", cfg, "--resume", *every_step], cli_env)
    assert resumed.returncode == 0, resumed.stderr
    final = [json.loads((p / "metrics.json").read_text()) for p in (whole, out)]
    assert final[0]["final"] == final[1]["final"]
    assert [h["train_loss"] for h in final[0]["history"]] == [h["train_loss"] for h in final[1]["history"]]


def test_a_missing_text_column_lists_the_columns(tmp_path, capsys, tiny_bert):
    data = _text_csv(tmp_path / "data", {"train": ["pos", "neg"] * 6, "test": ["pos", "neg"]})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "t", "output_dir": str(tmp_path / "out"), "model": {"name": str(tiny_bert)},
                                   "data": {"dataset": str(data), "text_column": "body"}}))
    line = _one_error_line(_inproc(["run", str(cfg)], capsys))
    assert "data.text_column: column 'body' not found; available columns: text, label" in line
    assert not (tmp_path / "out").exists()


def _text_config(tmp_path, dataset, model, **sections) -> str:
    cfg = tmp_path / "c.yaml"
    values = {"name": "t", "output_dir": str(tmp_path / "out"), "model": {"name": str(model)},
              "data": {"dataset": str(dataset), "max_length": 16}, "train": {"epochs": 1}}
    for key, update in sections.items():
        values[key] = {**values.get(key, {}), **update} if isinstance(update, dict) else update
    cfg.write_text(yaml.safe_dump(values))
    return str(cfg)


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    import datasets
    import numpy as np
    from PIL import Image

    from hf_transfer.data import tensor_images
    from hf_transfer.pixels import to_rgb

    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)  # values over the whole 16-bit range
    for cls in ("dark", "light"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(ramp if cls == "light" else ramp // 4).save(tmp_path / "img" / cls / f"{i}.png")
    loaded = datasets.load_dataset(str(tmp_path / "img"))["train"]
    image = loaded[0]["image"]
    assert image.mode in ("I", "I;16")  # how PIL opens a 16-bit PNG
    expected = np.rint(np.asarray(image, dtype=np.float64) * 255 / 65535).astype(np.uint8)
    rgb = np.asarray(to_rgb(image))
    assert np.array_equal(rgb[..., 0], expected) and np.array_equal(rgb[..., 1], rgb[..., 2])
    assert (np.asarray(image.convert("RGB")) == 255).mean() > 0.9  # PIL's own conversion whitens the image
    assert (rgb == 255).mean() < 0.01
    decoded = tensor_images.decode(loaded)  # the tensor pipeline's decode goes through the same conversion
    assert np.array_equal(decoded[0, 0].numpy(), expected)
    floats = Image.fromarray(np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4), mode="F")
    assert np.asarray(to_rgb(floats))[..., 0].tolist()[-1] == [204, 221, 238, 255]  # a float image in [0, 1]


def test_macro_f1_averages_over_the_classes_a_split_has(tmp_path):
    from hf_transfer.metrics import classification_metrics, collapse_warnings

    one_row = classification_metrics([0], [0], ["a", "b", "c"])  # a perfect prediction on a 1-row split
    assert one_row["accuracy"] == 1.0 and one_row["f1_macro"] == 1.0  # was 0.333: absent classes counted as 0
    assert one_row["absent_classes"] == ["b", "c"] and list(one_row["per_class_f1"]) == ["a", "b", "c"]
    assert collapse_warnings({"validation": one_row}, ["a", "b", "c"]) == [
        "validation: has no sample of 'b', 'c'; its macro scores average over the classes present in its labels or "
        "predictions"]
    wrong = classification_metrics([1], [0], ["a", "b", "c"])  # a class predicted but absent still counts
    assert wrong["f1_macro"] == 0.0 and "absent_classes" in wrong
    full = classification_metrics([0, 1, 2, 2], [0, 1, 2, 1], ["a", "b", "c"])
    assert "absent_classes" not in full and full["f1_macro"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_float_labels_that_are_whole_become_classes_and_others_a_regression_target(tmp_path, tiny_bert, capsys):

    data = _text_csv(tmp_path / "whole", {"train": [1.0, 2.0, 3.0] * 4, "test": [1.0, 2.0, 3.0]})
    metrics = run_config(tiny_config(tmp_path / "out", tiny_bert, data, train={"epochs": 1}))
    assert metrics["label_names"] == ["1", "2", "3"] and metrics["task"] == "single_label"
    halves = _text_csv(tmp_path / "halves", {"train": [0.5, 1.5] * 6, "test": [0.5, 1.5]})
    metrics = run_config(tiny_config(tmp_path / "out2", tiny_bert, halves, train={"epochs": 1}))
    assert metrics["task"] == "regression" and metrics["label_names"] == ["label"]
    as_classes = _text_config(tmp_path, halves, tiny_bert, output_dir=str(tmp_path / "out3"), task="single_label")
    line = _one_error_line(_inproc(["run", as_classes], capsys))
    assert "data.label_column: the labels are numbers that are not whole (0.5, 1.5)" in line and "task regression" in line
    assert not (tmp_path / "out3").exists()


def test_labels_differing_by_spaces_are_one_class_and_a_newline_is_refused(tmp_path, tiny_bert, capsys, caplog):
    from hf_transfer.config import DataConfig
    from hf_transfer.data.splits import build_splits

    spaced = _text_csv(tmp_path / "spaced", {"train": ["pos", "pos ", " neg", "neg"] * 3, "test": ["pos", "neg"]})
    splits = build_splits(DataConfig(dataset=str(spaced), max_length=16), "auto", 0)
    assert splits.label_names == ["neg", "pos"]
    assert "labels that differ only by spaces around them are one class: 'neg', 'pos'" in caplog.text
    broken = _text_csv(tmp_path / "broken", {"train": ["pos", "ne\ng"] * 6, "test": ["pos", "ne\ng"]})
    line = _one_error_line(_inproc(["run", _text_config(tmp_path, broken, tiny_bert)], capsys))
    assert "data.label_column: the class name 'ne\\ng' holds a newline or tab" in line


def test_an_id_column_taken_for_labels_is_refused_at_once(tmp_path, tiny_bert, capsys):

    data = _text_csv(tmp_path / "ids", {"train": list(range(2000)), "test": [0, 1]})
    line = _one_error_line(_inproc(["run", _text_config(tmp_path, data, tiny_bert, data={"validation_split": None})], capsys))
    assert "data.label_column: 2000 distinct labels for 2000 training samples" in line


def test_nested_class_folders_and_a_semicolon_csv_say_what_to_change(tmp_path, tiny_timm, tiny_bert, capsys):
    import numpy as np
    import pandas as pd
    from PIL import Image

    from hf_transfer.cli import main

    for path in ("animals/cat/0.png", "animals/dog/0.png", "car/0.png", "car/1.png"):
        (tmp_path / "nested" / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "nested" / path)
    line = _one_error_line(_inproc(["run", _text_config(tmp_path, tmp_path / "nested", tiny_timm)], capsys))
    assert "the images of" in line and "lie at different depths (car/0.png, animals/" in line
    (tmp_path / "semi").mkdir()
    text, labels = ["good great fine", "bad awful poor"] * 6, ["pos", "neg"] * 6
    for split in ("train", "test"):
        pd.DataFrame({"text": text, "label": labels}).to_csv(tmp_path / "semi" / f"{split}.csv", sep=";", index=False)
    line = _one_error_line(_inproc(["run", _text_config(tmp_path, tmp_path / "semi", tiny_bert)], capsys))
    assert "available columns: text;label; the file looks delimited by ';': set data.csv_delimiter: ';'" in line
    cfg = _text_config(tmp_path, tmp_path / "semi", tiny_bert, data={"csv_delimiter": ";"},
                       strategy={"name": "tfidf_logreg"})
    assert main(["run", cfg]) == 0


def test_a_bad_distillation_teacher_is_named_as_such(tmp_path, tiny_bert, sst2_like, capsys):

    cfg = _text_config(tmp_path, sst2_like, tiny_bert, data={"eval_splits": ["validation"]}, strategy={"name": "distill",
                                                                 "distill": {"teacher": str(tmp_path / "no_teacher")}})
    line = _one_error_line(_inproc(["run", cfg], capsys))
    assert line.startswith("hf-transfer: error: strategy.distill.teacher: local folder") and "does not exist" in line


def test_rank_on_too_few_samples_and_a_candidate_of_the_other_modality(tmp_path, tiny_timm, tiny_bert, cifar_like,
                                                                      capsys):
    import datasets

    from hf_transfer.cli import main

    two = tmp_path / "two"
    datasets.load_from_disk(str(cifar_like))["train"].select([0, 20]).save_to_disk(str(two))
    line = _one_error_line(_inproc(["rank", "--models", str(tiny_timm), "--dataset", str(two), "-o", str(tmp_path / "r")], capsys))
    assert "--dataset: " in line and "has 2 labelled samples for 3 classes; transferability scores need at least 10" in line
    assert main(["rank", "--models", f"{tiny_bert},{tiny_timm}", "--dataset", str(cifar_like),
                 "-o", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert f"not scoring {tiny_bert}: a text model, and {cifar_like} is image data" in err
    result = json.loads((tmp_path / "r" / "rank.json").read_text())
    assert [r["model"] for r in result["candidates"]] == [str(tiny_timm)] and result["skipped"][0]["model"] == str(tiny_bert)
    assert "not scored:" in (tmp_path / "r" / "rank.md").read_text()


def test_run_and_label_names_are_escaped_in_the_report_html_and_tables(tmp_path, tiny_bert, capsys):
    from hf_transfer.cli import main

    data = _text_csv(tmp_path / "data", {"train": ["a|b", "<i>c</i>"] * 6, "test": ["a|b", "<i>c</i>"]})
    cfg = _text_config(tmp_path, data, tiny_bert, name="<script>alert(1)</script>", strategy={"name": "tfidf_logreg"})
    assert main(["run", cfg]) == 0
    assert main(["report", str(tmp_path / "out"), "-o", str(tmp_path / "report")]) == 0
    for page in (tmp_path / "report" / "report.html", tmp_path / "out" / "report.md"):
        text = page.read_text()
        assert "<script>" not in text and "<i>" not in text and "&lt;script&gt;" in text
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<script" not in html.split("</head>", 1)[1]
    for md in (tmp_path / "out" / "report.md", tmp_path / "out" / "model" / "README.md"):
        rows = [line for line in md.read_text().splitlines() if line.startswith("| a\\|b |")]
        assert rows and all(line.replace("\\|", "").count("|") == rows[0].replace("\\|", "").count("|") for line in rows)


@pytest.fixture(scope="module")
def overlap(tmp_path_factory, tiny_bert):
    """A finished run on a CSV folder, for the commands whose output must not be or hold their inputs."""
    root = tmp_path_factory.mktemp("overlap")
    data = _text_csv(root / "data" / "reviews", {"train": [0, 1, 2] * 6, "test": [0, 1, 2] * 2})
    run_config(tiny_config(root / "run", tiny_bert, data, train={"epochs": 1}))
    return root


OVERLAPS = {  # case: (command line, with RUN, DATA, ROWS, ROOT and BERT filled in; words of the one line)
    "evaluate -o the run": ("evaluate RUN --dataset DATA -o RUN --overwrite", "is the model"),
    "evaluate -o the run of the model": ("evaluate RUN/model --dataset DATA -o RUN --overwrite", "holds the model"),
    "evaluate -o the data": ("evaluate RUN --dataset DATA -o DATA --overwrite", "is the data set"),
    "evaluate -o above the data": ("evaluate RUN --dataset DATA -o ROOT/data --overwrite", "holds the data set"),
    "evaluate -o inside the data": ("evaluate RUN --dataset DATA -o DATA/eval", "lies inside the data set"),
    "predict -o the input": ("predict RUN --input ROWS -o ROWS --overwrite", "is the input"),
    "predict -o inside the model": ("predict RUN --input ROWS -o RUN/model/config.json --overwrite",
                                    "lies inside the model folder"),
    "predict -o the run's config": ("predict RUN --input ROWS -o RUN/config.yaml --overwrite", "is the run's config"),
    "run into the run of its model": ("run --model RUN/model --dataset DATA --output-dir RUN --overwrite",
                                      "output_dir: 'RUN' holds model.name"),
    "run inside its data": ("run --model BERT --dataset DATA --output-dir DATA/run", "lies inside data.dataset"),
    "report -o a run": ("report RUN -o RUN", "is the run"),
    "rank -o a candidate's run": ("rank --models RUN/model --dataset DATA -o RUN --overwrite", "holds the candidate model"),
}


@pytest.mark.parametrize("case", OVERLAPS)
def test_no_output_may_be_or_hold_an_input_of_its_command(case, overlap, capsys, tiny_bert):
    """evaluate, predict, run, report and rank refuse an output that is their model, run or data (or a folder
    holding one), with --overwrite too: an --overwrite would move it aside and delete it."""
    run, data = overlap / "run", overlap / "data" / "reviews"
    names = {"RUN": str(run), "DATA": str(data), "ROWS": str(data / "test.csv"), "ROOT": str(overlap), "BERT": str(tiny_bert)}

    def filled(text):
        for key in ("ROWS", "RUN", "DATA", "ROOT", "BERT"):
            text = text.replace(key, names[key])
        return text

    command, words = OVERLAPS[case]
    before = {**_files(run), **_files(data)}
    line = _one_error_line(_inproc(filled(command).split(), capsys))
    assert filled(words) in line and "which this command reads" in line, line
    assert {**_files(run), **_files(data)} == before


def test_calibrate_none_is_the_word_not_yaml_null(tmp_path, tiny_timm, cifar_like, capsys):
    out = tmp_path / "out"
    cfg = _tiny_run_config(tmp_path, tiny_timm, cifar_like, out)
    result = _inproc(["run", cfg, "--set", "train.calibrate=none", "--print-config"], capsys)
    assert result.returncode == 0 and "calibrate: none" in result.stdout, result.stderr
    from hf_transfer.config import apply_overrides, from_dict

    assert apply_overrides(from_dict({}), ["train.calibrate=none"]).train.calibrate == "none"
    assert apply_overrides(from_dict({}), ["train.calibrate=null"]).train.calibrate == "none"


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_bert, tiny_timm, sst2_like, image_folder):
    """A finished text run (its model in the hf_transfer form) and image run, for the commands that read one."""
    root = tmp_path_factory.mktemp("finished")
    run_config(tiny_config(root / "text", tiny_bert, sst2_like, model={"name": str(tiny_bert), "pooling": "mean"},
                           data={"eval_splits": ["validation"]}, train={"epochs": 1}))
    run_config(tiny_config(root / "image", tiny_timm, image_folder, train={"epochs": 1}))
    return root


def _bomb(path):
    from PIL import Image

    Image.new("L", (Image.MAX_IMAGE_PIXELS // 4000 + 1, 8001)).save(path)  # over twice PIL's bound


@pytest.mark.parametrize("bad,write", [("airplane/corrupt.png", lambda p: p.write_bytes(b"not a png")), ("bomb.png", _bomb)],
                         ids=["corrupt", "decompression bomb"])
def test_predict_leaves_an_unreadable_image_unlabelled_and_counts_it(bad, write, finished, tmp_path, capsys, caplog,
                                                                     image_folder):
    photos = tmp_path / "photos"
    shutil.copytree(image_folder / "test", photos)
    write(photos / bad)
    result = _inproc(["predict", str(finished / "image"), "--input", str(photos), "-o", str(tmp_path / "p.csv")], capsys)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "1 of the 13 rows have an unreadable image" in caplog.text
    rows = pd.read_csv(tmp_path / "p.csv", keep_default_na=False).set_index("path")
    assert rows.loc[bad, "label"] == "" and rows.loc[bad, "note"] == "an unreadable image"
    assert (rows.drop([bad])["label"] != "").all()


def test_predict_leaves_blank_rows_unlabelled_and_says_so(finished, tmp_path, capsys, caplog):
    table = tmp_path / "rows.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "text": ["good great", "", "   ", "bad awful"]}).to_csv(table, index=False)
    lines = tmp_path / "rows.txt"
    lines.write_text("good great\n\nbad\n")
    for source, blank in ((table, 2), (lines, 1)):
        out = tmp_path / f"{source.stem}{source.suffix}.csv"
        caplog.clear()
        result = _inproc(["predict", str(finished / "text"), "--input", str(source), "-o", str(out)], capsys)
        assert result.returncode == 0 and f"{blank} of the " in caplog.text, result.stderr
        rows = pd.read_csv(out, keep_default_na=False)
        assert len(rows) == (4 if source == table else 3)  # one output row per input row
        assert (rows["label"] == "").sum() == blank and (rows["note"] == "an empty or missing text").sum() == blank


def test_predict_from_python_takes_one_text_as_one_input(finished):
    import hf_transfer

    clf = hf_transfer.load(finished / "text")
    assert len(clf.predict("good great fine")) == 1  # not one prediction per character
    assert clf.predict("good great fine") == clf.predict(["good great fine"])


def test_predict_from_python_refuses_a_dict_and_an_empty_text(finished):
    import hf_transfer
    from hf_transfer.errors import UserError

    clf = hf_transfer.load(finished / "text")
    with pytest.raises(UserError, match="not a dict"):
        clf.predict({"good": 1, "bad": 2})
    with pytest.raises(UserError, match="input 1 .* is an empty text"):
        clf.predict(["good", "  "])


def test_predict_output_under_a_file_is_one_line(finished, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    rows = tmp_path / "rows.txt"
    rows.write_text("good\n")
    line = _one_error_line(_inproc(["predict", str(finished / "text"), "--input", str(rows), "-o",
                                    str(tmp_path / "afile" / "p.csv")], capsys))
    assert "is a file, so" in line


def test_a_config_less_run_whose_first_image_is_corrupt_drops_it(tmp_path, capsys, caplog, tiny_timm, image_folder):
    photos = tmp_path / "photos"
    shutil.copytree(image_folder, photos)
    first = sorted((photos / "train").rglob("*.png"))[0]
    first.write_bytes(b"garbage")
    result = _inproc(["run", "--model", str(tiny_timm), "--dataset", str(photos), "--output-dir", str(tmp_path / "o"),
                      "--epochs", "1"], capsys)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "have an unreadable image" in caplog.text


def test_a_config_less_run_prints_the_settings_it_runs_with(tmp_path, capsys, tiny_bert, sst2_like):
    result = _inproc(["run", "--model", str(tiny_bert), "--dataset", str(sst2_like), "--output-dir", str(tmp_path / "o"),
                      "--epochs", "1", "--set", "train.min_steps=null", "--print-config"], capsys)
    assert result.returncode == 0
    assert "epochs=1" in result.stderr and "min_steps=None" in result.stderr and "epochs=3" not in result.stderr


def _titled(tmp_path):
    data = tmp_path / "d.csv"
    pd.DataFrame({"id": range(12), "title": ["a b"] * 12, "body": ["good great"] * 12, "label": [0, 1] * 6}).to_csv(data, index=False)
    return data


def test_a_numeric_text_column_is_named_with_the_text_columns(tmp_path, capsys, tiny_bert):
    numeric = _one_error_line(_inproc(["run", "--model", str(tiny_bert), "--dataset", str(_titled(tmp_path)),
                                       "--text-column", "id"], capsys))
    assert "data.text_column: column 'id'" in numeric and "holds int64 values, not text" in numeric


def test_two_unnamed_text_columns_are_named_with_the_flag(tmp_path, capsys, tiny_bert):
    two = _one_error_line(_inproc(["run", "--model", str(tiny_bert), "--dataset", str(_titled(tmp_path))], capsys))
    assert "'title', 'body'" in two and "--text-column" in two


@pytest.mark.parametrize("content,words", [
    (b"", "is empty (zero bytes)"), (b"text,label\n", "has a header and no rows"),
    ("text,label\ncaf\u00e9 good,a\nbad,b\n".encode("latin-1"), "is not UTF-8 text"),
    (b"text,label\ngood,a\nbad,b\nred,c\n", "class 'a' has 1 of the 3"),
], ids=["zero bytes", "header only", "latin-1", "one row per class"])
def test_a_csv_that_cannot_train_says_why_in_the_users_words(content, words, tmp_path, capsys, tiny_bert):
    data = tmp_path / "d.csv"
    data.write_bytes(content)
    line = _one_error_line(_inproc(["run", "--model", str(tiny_bert), "--dataset", str(data), "--output-dir",
                                    str(tmp_path / "o")], capsys))
    assert words in line and "test_size" not in line and "generating the dataset" not in line


def test_a_text_model_on_image_data_says_which_is_which(tmp_path, capsys, tiny_bert, image_folder):
    line = _one_error_line(_inproc(["run", "--model", str(tiny_bert), "--dataset", str(image_folder), "--output-dir",
                                    str(tmp_path / "o")], capsys))
    assert "is a text model (its config.json), but the data is image" in line
    assert "BertConfig" not in line and "site-packages" not in line


def test_label_efficiency_refuses_no_seeds(tmp_path, capsys):
    line = _one_error_line(_inproc(["run", "label_efficiency", "--seeds", "0", "--output-dir", str(tmp_path / "le")], capsys))
    assert "--seeds: 0 seeds runs nothing" in line
    assert not (tmp_path / "le").exists()


def test_more_labels_per_class_than_a_class_has_is_said(tmp_path, caplog, tiny_bert):
    data = _text_csv(tmp_path / "few", {"train": [0, 1, 2] * 6, "test": [0, 1, 2] * 2})
    run_config(tiny_config(tmp_path / "n1000", tiny_bert, data, data={"labelled_per_class": 1000}, train={"epochs": 1}))
    assert "1000 labelled rows per class asked, but a class has only" in caplog.text


def test_rank_reads_the_label_column_named_by_flag_or_set(tmp_path, capsys, tiny_bert):
    data = tmp_path / "d.csv"
    text, labels = [" ".join(WORDS[i % 3][j % 5] for j in range(i, i + 4)) for i in range(24)], [i % 3 for i in range(24)]
    pd.DataFrame({"text": text, "sentiment": labels}).to_csv(data, index=False)
    assert "data.label_column" in _one_error_line(_inproc(["rank", "--models", str(tiny_bert), "--dataset", str(data),
                                                           "-o", str(tmp_path / "r0")], capsys))
    for i, flag in enumerate((["--label-column", "sentiment"], ["--set", "data.label_column=sentiment"])):
        result = _inproc(["rank", "--models", str(tiny_bert), "--dataset", str(data), "-o", str(tmp_path / f"r{i + 1}"), *flag],
                         capsys)
        assert result.returncode == 0, result.stderr
        assert json.loads((tmp_path / f"r{i + 1}" / "rank.json").read_text())["candidates"][0]["classes"] == 3


def test_typed_flags_say_what_they_expected(finished, tmp_path, capsys):
    rows = tmp_path / "rows.txt"
    rows.write_text("good\n")
    result = _inproc(["predict", str(finished / "text"), "--input", str(rows), "--abstain-below", "abc"], capsys)
    assert result.returncode == 2 and "--abstain-below: 'abc' is not a number" in result.stderr
    assert "_probability" not in result.stderr
