"""One start and one finish for every kind of run; the kinds differ only in how they produce the model.

    run_config(cfg)   the entry point of every config (the CLI, recipes, benchmarks); the steps every kind shares
                      are in lifecycle.py:
      start           refuse an output folder in use (or a resume of another config), seed, start the clock
      KINDS[kind].run loads data and model, then `open_folder` (the run directory, config.yaml, train.log),
                      then produces model/: the training loop (loop_run), a fitted baseline (fitted_run) or a
                      post-hoc adjustment of a trained model (posthoc_run)
      finish          the model card, report.md, metrics.json, the log line, the Hub push when asked

A strategy names its kind (`Strategy.run_kind`); a new kind is a module with `run(cfg, strategy, start)` and a
line in KINDS. A run that fails before its first step leaves nothing behind; a write the file system refuses
is one line, and metrics.json says the run failed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from pathlib import Path

from .. import run_folder
from ..errors import UserError
from . import fitted_run, lifecycle, loop_run, posthoc_run

log = logging.getLogger("hf_transfer")

KINDS = {"loop": loop_run, "fitted": fitted_run, "posthoc": posthoc_run}  # run kind -> its module


def run_config(cfg, overwrite: bool = False, resume: bool = False) -> dict:
    """Run one config end to end, whatever its kind; returns the metrics written to metrics.json."""
    from ..strategies import get_strategy

    strategy = get_strategy(cfg.strategy)
    if strategy.run_kind not in KINDS:
        raise UserError(f"strategy.name: {strategy.name} runs as {strategy.run_kind!r}, which is not a run kind "
                        f"(one of: {', '.join(KINDS)})")
    kind = KINDS[strategy.run_kind]
    out = Path(cfg.output_dir)
    there_before = {p.name for p in out.iterdir()} if out.is_dir() else None  # what a failed start must not touch
    try:
        try:
            return kind.run(cfg, strategy, lifecycle.start(cfg, strategy, overwrite, resume))
        except OSError as e:  # a full disk, a read-only folder: one line, and metrics.json says the run failed
            if e.errno not in run_folder.CANNOT_WRITE:
                raise
            raise _cannot_write(out, e) from None
    except BaseException:
        if run_folder.is_main_process() and not resume:
            _undo_failed_start(out, there_before)
        raise
    finally:
        run_folder.release_lock(out)


def _cannot_write(out: Path, e: OSError) -> UserError:
    """The one-line error for a write the file system refused; a run under way is marked failed."""
    message = run_folder.cannot_write(e, out)
    if (out / run_folder.METRICS).is_file() and run_folder.is_main_process():
        with contextlib.suppress(OSError, ValueError):
            if json.loads((out / run_folder.METRICS).read_text()).get("status") == "running":
                run_folder.write_metrics(out, {"status": "failed", "message": message})
    return UserError(message)


def _undo_failed_start(out: Path, there_before: set[str] | None) -> None:
    """A run that failed before its first step leaves nothing: the run --overwrite replaced comes back, a
    folder it made is removed, what it wrote into a folder that was there goes (and nothing else), so a
    re-run needs no --overwrite."""
    from .logs import close_log_file

    if run_folder.restore_previous(out):
        log.warning("the run failed before it started: %s is back as it was", out)
    elif out.is_dir() and not (out / run_folder.METRICS).exists() and run_folder.latest_checkpoint(out) is None:
        close_log_file()  # train.log is closed before it goes
        if there_before is None:
            shutil.rmtree(out)
            return
        for item in out.iterdir():
            if item.name not in there_before:
                shutil.rmtree(item) if item.is_dir() else item.unlink()
