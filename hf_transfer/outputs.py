"""How every run ends, whatever produced its model (the training loop, a fitted baseline, a post-hoc
adjustment): metrics.json, the model card, report.md, the log line, and the Hub push when
`hub.push_to_hub` asks for it. The model itself is already in model/ (each kind writes its own form)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("hf_transfer")


def finish(out: Path, cfg, metrics: dict) -> dict:
    """Write what every finished run holds besides its model, then push it if asked; returns `metrics`."""
    from . import hub, report
    from .runtime import write_metrics

    write_metrics(out, metrics)
    hub.write_model_card(out, cfg, metrics)
    report.write_run_report(out, cfg, metrics)
    log.info("finished: %s", "  ".join(f"{k} acc={v['accuracy']:.4f} f1={v['f1_macro']:.4f}"
                                       for k, v in metrics["final"].items()))
    if cfg.hub.push_to_hub:
        log.info("pushed to %s", hub.push(out, cfg.hub.repo_id, private=cfg.hub.private))
    return metrics
