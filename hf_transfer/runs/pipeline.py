"""One start and one finish for every kind of run; the kinds differ only in how they produce the model.

    run_config(cfg)   the entry point of every config (the CLI, recipes, benchmarks)
      start           refuse an output folder in use (or a resume of another config), seed, start the clock
      KINDS[kind].run loads data and model, then `open_folder` (the run directory, config.yaml, train.log),
                      then produces model/: the training loop (loop_run), a fitted baseline (fitted_run) or a
                      post-hoc adjustment of a trained model (posthoc_run)
      finish          metrics.json, the model card, report.md, the log line, the Hub push when asked

A strategy names its kind (`Strategy.run_kind`); a new kind is a module with `run(cfg, strategy, start)` and a
line in KINDS. A run that fails before its first step leaves nothing behind; a write the file system refuses
is one line, and metrics.json says the run failed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from . import run_folder

log = logging.getLogger("hf_transfer")

KINDS = {"loop": "hf_transfer.runs.loop_run", "fitted": "hf_transfer.runs.fitted_run",  # run kind -> module
         "posthoc": "hf_transfer.runs.posthoc_run"}
_RESUME_MAY_CHANGE = ("train.stop_after_steps", "hub.")


@dataclass
class Start:
    """What `start` checked and began: the run's folder, the clock, and how the folder may be used."""

    out: Path
    started: float
    overwrite: bool = False
    resume: bool = False


def run_config(cfg, overwrite: bool = False, resume: bool = False) -> dict:
    """Run one config end to end, whatever its kind; returns the metrics written to metrics.json."""
    from ..strategies import get_strategy

    strategy = get_strategy(cfg.strategy)
    if strategy.run_kind not in KINDS:
        raise UserError(f"strategy.name: {strategy.name} runs as {strategy.run_kind!r}, which is not a run kind "
                        f"(one of: {', '.join(KINDS)})")
    kind = importlib.import_module(KINDS[strategy.run_kind])
    out = Path(cfg.output_dir)
    there_before = {p.name for p in out.iterdir()} if out.is_dir() else None  # what a failed start must not touch
    try:
        try:
            return kind.run(cfg, strategy, start(cfg, overwrite, resume))
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


def start(cfg, overwrite: bool = False, resume: bool = False) -> Start:
    """Refuse a folder in use (or a resume of a different config), seed, and start the clock; nothing is written."""
    import torch
    from accelerate.utils import set_seed

    out = Path(cfg.output_dir)
    run_folder.refuse_inputs(out, "output_dir", _inputs(cfg), sealed=("model.name", "data.dataset"))
    run_folder.check(out, overwrite=overwrite, resume=resume)
    if resume:
        changed = config_changes(cfg, out)
        if changed:
            raise UserError(f"--resume: the config differs from the run's {run_folder.CONFIG} in {', '.join(changed)}; "
                            "resume with the same config (only train.stop_after_steps may change)")
    set_seed(cfg.train.seed)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()  # this run's peak, not an earlier run's in the same process
    return Start(out, time.perf_counter(), overwrite, resume)


def _inputs(cfg) -> list[tuple[str, str]]:
    """What a run reads from disk, by the field that names it: the backbone, the data sets, a teacher."""
    d = cfg.data
    teacher = getattr(getattr(cfg.strategy, "distill", None), "teacher", None)
    return [("model.name", cfg.model.name), ("data.dataset", d.dataset), ("data.target.dataset", d.target.dataset),
            *((f"data.extra_eval.{name}.dataset", e.dataset) for name, e in d.extra_eval.items()),
            ("strategy.distill.teacher", teacher)]


def open_folder(start: Start, cfg, accelerator=None) -> None:
    """Once data and model have loaded (a bad id leaves nothing): the run directory with its config.yaml, and
    logging into its train.log. With several processes the main one makes it and the others wait."""
    from .environment import setup_logging

    main = accelerator is None or accelerator.is_main_process
    if main:
        run_folder.prepare(start.out, overwrite=start.overwrite, resume=start.resume)
        if not start.resume:
            (start.out / run_folder.CONFIG).write_text(cfg.to_yaml())
    if accelerator is not None:
        accelerator.wait_for_everyone()
    setup_logging(start.out, main)


def finish(start: Start, cfg, metrics: dict) -> dict:
    """What every finished run holds besides its model (already in model/, in each kind's form): the model card,
    report.md, then metrics.json with the total time and warnings (status 'finished' is the last thing written);
    then the Hub push when hub.push_to_hub asks."""
    from .. import hub
    from ..reports import model_card, run_report
    from .environment import write_metrics

    out = start.out
    run_folder.discard_previous(out)  # finished: what --overwrite replaced is gone now
    metrics["timings"]["total_seconds"] = round(time.perf_counter() - start.started, 2)
    for warning in metrics["warnings"]:
        log.warning("%s: %s", cfg.name, warning)
    try:
        model_card.write_model_card(out, cfg, metrics)
        run_report.write_run_report(out, cfg, metrics)
    except OSError as e:  # a full disk while the report is written: metrics.json says failed, not finished
        if e.errno in run_folder.CANNOT_WRITE and run_folder.is_main_process():
            with contextlib.suppress(OSError):
                write_metrics(out, {**metrics, "status": "failed", "message": run_folder.cannot_write(e, out)})
        raise
    write_metrics(out, metrics)  # last: 'finished' only once the model, card and report are all written
    log.info("finished: %s", "  ".join(f"{k} acc={v['accuracy']:.4f} f1={v['f1_macro']:.4f}"
                                       for k, v in metrics["final"].items()))
    if cfg.hub.push_to_hub:
        log.info("pushed to %s", hub.push(out, cfg.hub.repo_id, private=cfg.hub.private))
    return metrics


def base_metrics(cfg, splits, strategy, model_name: str, library: str, model=None) -> dict:
    """The metrics.json fields every kind of run fills the same way."""
    from .class_weights import resolve_class_weights

    return {"status": "finished", "name": cfg.name, "task": splits.task, "model": model_name, "library": library,
            "strategy": cfg.strategy.name, "label_names": splits.label_names,
            "eval_datasets": {"validation": "carved from train" if splits.validation is not None else None,
                              **splits.dataset_ids},
            "train_on": strategy.train_on, "reads_target_labels": strategy.reads_target_labels or None,
            "batch_size": cfg.train.batch_size,
            "class_weights": resolve_class_weights(cfg.train.class_weights, splits.train["label"],
                                                   len(splits.label_names)),
            "pooling": model.pooling.to_dict() if model is not None and model.pooling is not None else None}


def config_changes(cfg, out: Path) -> list[str]:
    """The fields (dotted) in which `cfg` differs from the run's saved config.yaml, besides those a
    resume may change."""
    import yaml

    from ..config import from_dict

    saved = from_dict(yaml.safe_load((out / run_folder.CONFIG).read_text())).to_dict()
    now = cfg.to_dict()

    def flat(d, prefix=""):
        for k, v in d.items():
            yield from flat(v, f"{prefix}{k}.") if isinstance(v, dict) and k != "extra_eval" else [(prefix + k, v)]

    a, b = dict(flat(saved)), dict(flat(now))
    return [k for k in a if a[k] != b.get(k) and not k.startswith(_RESUME_MAY_CHANGE) and k != "output_dir"]


def _cannot_write(out: Path, e: OSError) -> UserError:
    """The one-line error for a write the file system refused; a run under way is marked failed."""
    from .environment import write_metrics

    message = run_folder.cannot_write(e, out)
    if (out / run_folder.METRICS).is_file() and run_folder.is_main_process():
        with contextlib.suppress(OSError, ValueError):
            if json.loads((out / run_folder.METRICS).read_text()).get("status") == "running":
                write_metrics(out, {"status": "failed", "message": message})
    return UserError(message)


def _undo_failed_start(out: Path, there_before: set[str] | None) -> None:
    """A run that failed before its first step leaves nothing: the run --overwrite replaced comes back, a
    folder it made is removed, what it wrote into a folder that was there goes (and nothing else), so a
    re-run needs no --overwrite."""
    from .environment import close_log_file

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
