"""A run folder from elsewhere, a second run on the same folder, a full disk, a folder that cannot be written:
nothing runs code from the folder, nothing the user had is lost, and each ends in one line."""

import errno
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import tiny_config
from safetensors.torch import load_file

from hf_transfer import run_folder
from hf_transfer.cli import main
from hf_transfer.runs import checkpoint
from hf_transfer.runs.pipeline import run_config


class _Planted:
    """Unpickling this creates the marker file: what a malicious pickle in a shared checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _one_line(code: int, capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("hf-transfer: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _config_file(tmp_path, out, tiny_timm, cifar_like, **train_values) -> str:
    cfg = tiny_config(out, tiny_timm, cifar_like, train={"epochs": 2, **train_values})
    path = tmp_path / f"{Path(out).name}.yaml"
    path.write_text(cfg.to_yaml())
    return str(path)


def _files(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def stopped_run(tmp_path, tiny_timm, cifar_like):
    """A run stopped after 2 steps, its config file, and its newest checkpoint."""
    out = tmp_path / "run"
    cfg = _config_file(tmp_path, out, tiny_timm, cifar_like, checkpoint_every_steps=1)
    stopped = run_config(tiny_config(out, tiny_timm, cifar_like, train={"epochs": 2, "checkpoint_every_steps": 1,
                                                                     "stop_after_steps": 2}))
    assert stopped["status"] == "stopped"
    return out, cfg, run_folder.latest_checkpoint(out)


def test_checkpoints_hold_only_tensors_and_json(stopped_run):
    _, _, ckpt = stopped_run
    names = sorted(p.name for p in ckpt.iterdir())
    assert names == sorted([checkpoint.MODEL, checkpoint.OPTIMIZER, checkpoint.OPTIMIZER_JSON, checkpoint.SCHEDULER,
                            checkpoint.rng_file(0), checkpoint.STATE])
    for p in ckpt.iterdir():  # each parses as what it claims to be: numbers, never code
        load_file(str(p)) if p.suffix == ".safetensors" else json.loads(p.read_text())


def test_resume_runs_no_code_planted_in_any_checkpoint_file(stopped_run, tmp_path, tiny_timm, cifar_like, capsys):
    out, _, ckpt = stopped_run
    marker = tmp_path / "pwned"
    for name in sorted(p.name for p in ckpt.iterdir()):
        copy = tmp_path / f"copy_{name.replace('.', '_')}"
        shutil.copytree(out, copy)
        (run_folder.latest_checkpoint(copy) / name).write_bytes(pickle.dumps(_Planted(marker)))
        before = _files(copy)
        line = _one_line(main(["run", _config_file(tmp_path, copy, tiny_timm, cifar_like, checkpoint_every_steps=1),
                               "--resume"]), capsys)
        assert not marker.exists(), name
        assert f"--resume: {run_folder.latest_checkpoint(copy).name} cannot be loaded" in line, line
        after = _files(copy)
        after.pop(Path(run_folder.LOG)), before.pop(Path(run_folder.LOG))  # the log says a resume was tried
        assert after == before  # else the folder is left as it was (no lock, no new checkpoint)
    # the pickles of an older version's checkpoint (accelerate's names) are refused by name, unread
    for planted in ("custom_checkpoint_0.pkl", "optimizer.bin", "random_states_0.pkl"):
        (ckpt / planted).write_bytes(pickle.dumps(_Planted(marker)))
    line = _one_line(main(["run", _config_file(tmp_path, out, tiny_timm, cifar_like, checkpoint_every_steps=1),
                           "--resume"]), capsys)
    assert "custom_checkpoint_0.pkl, optimizer.bin, random_states_0.pkl" in line and "pickle" in line
    assert not marker.exists()


def _live_lock(folder: Path, pid: int) -> None:
    (folder / run_folder.LOCK).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                  "started": run_folder._process_start(pid), "command": "hf-transfer run x"}))


def test_a_second_run_on_a_folder_in_use_is_refused(stopped_run, capsys):
    out, cfg, _ = stopped_run
    running = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:  # a live process (it waits for its input) stands for the run still training
        _live_lock(out, running.pid)
        before = _files(out)
        for extra in (["--resume"], ["--overwrite"]):
            line = _one_line(main(["run", cfg, *extra]), capsys)
            assert f"is in use by process {running.pid} on {socket.gethostname()} (hf-transfer run x)" in line
            assert _files(out) == before and not run_folder.previous(out).exists()  # not moved aside, nothing removed
    finally:
        running.stdin.close()
        running.wait()


def test_a_stale_lock_is_taken_over(stopped_run, capsys):
    out, cfg, _ = stopped_run
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid names no process now
    _live_lock(out, gone.pid)
    assert main(["run", cfg, "--resume"]) == 0
    assert json.loads((out / run_folder.METRICS).read_text())["status"] == "finished"
    assert not (out / run_folder.LOCK).exists()  # released at the end


def test_the_lock_is_held_while_a_run_trains(tmp_path, tiny_timm, cifar_like, monkeypatch):
    import hf_transfer.runs.loop_run as loop

    seen, run_epochs = [], loop._run_epochs
    monkeypatch.setattr(loop, "_run_epochs", lambda lp: (seen.append(run_folder.lock_holder(lp.out)), run_epochs(lp)))
    run_config(tiny_config(tmp_path / "run", tiny_timm, cifar_like, train={"epochs": 1}))
    assert seen and seen[0].startswith(f"process {os.getpid()} ")
    assert not (tmp_path / "run" / run_folder.LOCK).exists()


def test_a_full_disk_while_checkpointing_says_so_and_keeps_the_last_checkpoint(tmp_path, tiny_timm, cifar_like,
                                                                              monkeypatch, capsys):
    out = tmp_path / "run"
    cfg = _config_file(tmp_path, out, tiny_timm, cifar_like, checkpoint_every_steps=1)
    calls, save_model = [], checkpoint.save_model

    def fills_the_disk(model, path):
        calls.append(path)
        if len(calls) == 2:  # the second checkpoint: half a file, then the disk is full
            Path(path).write_bytes(b"\0" * 1024)
            raise OSError(errno.ENOSPC, "No space left on device", path)
        save_model(model, path)

    monkeypatch.setattr(checkpoint, "save_model", fills_the_disk)
    line = _one_line(main(["run", cfg]), capsys)
    assert line == ("hf-transfer: error: no space left on device while writing checkpoints/step_00000002; the last "
                    "complete checkpoint, step_00000001, is kept (free space, then --resume)")
    metrics = json.loads((out / run_folder.METRICS).read_text())
    assert metrics["status"] == "failed" and metrics["message"] in line
    assert not list((out / run_folder.CHECKPOINTS).glob(".writing-*"))  # the half-written folder is gone
    assert [p.name for p in run_folder.checkpoints(out)] == ["step_00000001"] and not (out / run_folder.LOCK).exists()
    monkeypatch.setattr(checkpoint, "save_model", save_model)  # space again: the run goes on from the kept step
    assert main(["run", cfg, "--resume"]) == 0
    assert json.loads((out / run_folder.METRICS).read_text())["status"] == "finished"


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path, tiny_timm, cifar_like, monkeypatch, capsys):
    locked = tmp_path / "read_only"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: the file system's refusal is simulated at the same call
        mkdir = Path.mkdir

        def refuse(self, *args, **kwargs):
            if str(self).startswith(str(locked)):
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", refuse)
    else:
        locked.chmod(0o555)
    line = _one_line(main(["run", _config_file(tmp_path, locked / "run", tiny_timm, cifar_like)]), capsys)
    assert line == f"hf-transfer: error: permission denied while writing {locked / 'run'}"
    assert not any(locked.iterdir())


def test_a_damaged_checkpoint_file_is_one_line_not_a_traceback(stopped_run, tmp_path, tiny_timm, cifar_like, capsys):
    out, _, ckpt = stopped_run
    (ckpt / checkpoint.OPTIMIZER_JSON).write_text("{not json")
    line = _one_line(main(["run", _config_file(tmp_path, out, tiny_timm, cifar_like, checkpoint_every_steps=1),
                           "--resume"]), capsys)
    assert "--resume: step_00000002 cannot be loaded (JSONDecodeError" in line


def _disk_full_from_safetensors():
    """What safetensors raises on a full disk (seen on a 1 MiB tmpfs): a SafetensorError, not an OSError."""
    from safetensors import SafetensorError

    return SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_a_full_disk_seen_by_safetensors_mid_checkpoint_is_one_line_and_resumable(tmp_path, tiny_timm, cifar_like,
                                                                                 monkeypatch, capsys):
    out = tmp_path / "run"
    cfg = _config_file(tmp_path, out, tiny_timm, cifar_like, checkpoint_every_steps=1)
    calls, save_file = [], checkpoint.save_file

    def fills_the_disk(tensors, path, **kwargs):
        calls.append(path)
        if len(calls) == 3:  # the second checkpoint's optimizer file (after its model): cut short, then the error
            Path(path).write_bytes(b"\0" * 100)
            raise _disk_full_from_safetensors()
        save_file(tensors, path, **kwargs)

    monkeypatch.setattr(checkpoint, "save_file", fills_the_disk)
    line = _one_line(main(["run", cfg]), capsys)
    assert "no space left on device while writing checkpoints/step_00000002" in line and "step_00000001, is kept" in line
    assert json.loads((out / run_folder.METRICS).read_text())["status"] == "failed"
    assert not list((out / run_folder.CHECKPOINTS).glob(".writing-*"))
    monkeypatch.setattr(checkpoint, "save_file", save_file)
    assert main(["run", cfg, "--resume"]) == 0


def test_a_full_disk_while_a_fitted_run_writes_its_report_leaves_it_failed_not_finished(tmp_path, tiny_bert, sst2_like,
                                                                                       monkeypatch, capsys):
    from hf_transfer.reports import run_report

    out = tmp_path / "tfidf"
    cfg = tiny_config(out, tiny_bert, sst2_like, strategy={"name": "tfidf_logreg"}, data={"eval_splits": ["validation"]})
    path = tmp_path / "tfidf.yaml"
    path.write_text(cfg.to_yaml())

    def half_then_full(md_path, html_path):
        Path(html_path).write_text("<html><body>cut sh")
        raise OSError(errno.ENOSPC, "No space left on device", str(html_path))

    monkeypatch.setattr(run_report, "write_html", half_then_full)
    line = _one_line(main(["run", str(path)]), capsys)
    assert line == f"hf-transfer: error: no space left on device while writing {out / 'report.html'}"
    metrics = json.loads((out / run_folder.METRICS).read_text())
    assert metrics["status"] == "failed" and metrics["message"] in line
