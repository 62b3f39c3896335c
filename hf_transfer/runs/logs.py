"""A run's train.log: the package's log lines go to the run folder's file (and the terminal) while it runs."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import run_folder

log = logging.getLogger("hf_transfer")


def close_log_file() -> None:
    for h in list(log.handlers):
        if getattr(h, "_hf_transfer", False):
            log.removeHandler(h)
            h.close()


def setup_logging(out: Path, main: bool) -> None:
    log.setLevel(logging.INFO)
    close_log_file()
    if main:
        handler = logging.FileHandler(out / run_folder.LOG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler._hf_transfer = True
        log.addHandler(handler)
