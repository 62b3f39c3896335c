"""What every kind of run shares, in the order a run meets it:

    start          refuse an output folder in use, one that is an input (or a resume of another config); seed; the clock
    open_folder    once data and model have loaded: the run directory, config.yaml, train.log
    finish         the model card, report.md, then metrics.json ('finished' last), the log line, the Hub push

runs/pipeline.py runs a config through its kind (loop_run, fitted_run, posthoc_run), which calls these; a kind
builds its metrics.json and closes (calibrate, write the model, then `finish`) through runs/outputs.py.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from .. import hub, run_folder, tasks
from ..errors import UserError
from ..reports import model_card, run_report

log = logging.getLogger("hf_transfer")
_RESUME_MAY_CHANGE = ("train.stop_after_steps", "hub.")


@dataclass
class Start:
    """What `start` checked and began: the run's folder, the clock, and how the folder may be used."""

    out: Path
    started: float
    overwrite: bool = False
    resume: bool = False


def start(cfg, strategy, overwrite: bool = False, resume: bool = False) -> Start:
    """Refuse a folder in use, one that is or holds what the run reads (the strategy's own inputs too), or a resume
    of a different config; seed, and start the clock; nothing is written."""
    import torch
    from accelerate.utils import set_seed

    out = Path(cfg.output_dir)
    run_folder.refuse_inputs(out, "output_dir", _inputs(cfg, strategy), sealed=("model.name", "data.dataset"))
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


def _inputs(cfg, strategy) -> list[tuple[str, str]]:
    """What a run reads from disk, by the field that names it: the backbone, the data sets, a teacher."""
    d = cfg.data
    return [("model.name", cfg.model.name), ("data.dataset", d.dataset), ("data.target.dataset", d.target.dataset),
            *((f"data.extra_eval.{name}.dataset", e.dataset) for name, e in d.extra_eval.items()),
            *strategy.inputs()]


def open_folder(start: Start, cfg, accelerator=None) -> None:
    """Once data and model have loaded (a bad id leaves nothing): the run directory with its config.yaml, and
    logging into its train.log. With several processes the main one makes it and the others wait."""
    from .logs import setup_logging

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
                run_folder.write_metrics(out, {**metrics, "status": "failed", "message": run_folder.cannot_write(e, out)})
        raise
    run_folder.write_metrics(out, metrics)  # last: 'finished' only once the model, card and report are all written
    task = tasks.of_metrics(metrics)
    log.info("finished: %s", "  ".join(f"{k} {task.log_line(v)}" for k, v in metrics["final"].items()))
    if cfg.hub.push_to_hub:
        log.info("pushed to %s", hub.push(out, cfg.hub.repo_id, private=cfg.hub.private))
    return metrics


def config_changes(cfg, out: Path) -> list[str]:
    """The fields (dotted) in which `cfg` differs from the run's saved config.yaml, besides those a
    resume may change."""
    import yaml

    from ..config import from_dict

    saved = from_dict(yaml.safe_load((out / run_folder.CONFIG).read_text())).used()
    now = cfg.used()

    def flat(d, prefix=""):
        for k, v in d.items():
            yield from flat(v, f"{prefix}{k}.") if isinstance(v, dict) and k != "extra_eval" else [(prefix + k, v)]

    a, b = dict(flat(saved)), dict(flat(now))
    return [k for k in a if a[k] != b.get(k) and not k.startswith(_RESUME_MAY_CHANGE) and k != "output_dir"]
