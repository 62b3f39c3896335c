"""Hub uploads: a finished run (model/, its card, the report files) staged and pushed with huggingface_hub."""

from __future__ import annotations

from pathlib import Path

from . import run_folder
from .errors import UserError
from .exported import folder as export_folder
from .reports import model_card

REPORT_FILES = ("report.md", "curves.png", "calibration.png", "metrics.json", "config.yaml")


def stage(run_dir: str | Path, repo_id: str, into: str | Path) -> Path:
    """The exact folder that would go to the Hub: model/ (weights, config, preprocessing), the ONNX export
    (onnx/, when `hf-transfer export` made one), the report files, and a card rendered for `repo_id`. The run
    directory itself is only read."""
    import json
    import shutil

    import yaml

    from .config import apply_overrides, from_dict

    run_dir, into = Path(run_dir), Path(into)
    metrics_path = run_dir / run_folder.METRICS
    if not (run_dir / run_folder.MODEL).is_dir() or not metrics_path.is_file():
        raise UserError(f"{run_dir}: not a finished run directory (no {run_folder.MODEL}/ or {run_folder.METRICS})")
    metrics = json.loads(metrics_path.read_text())
    cfg = apply_overrides(from_dict(yaml.safe_load((run_dir / run_folder.CONFIG).read_text())), [f"hub.repo_id={repo_id}"])
    shutil.copytree(run_dir / run_folder.MODEL, into, dirs_exist_ok=True)
    if export_folder.is_export(run_dir / export_folder.EXPORT_DIR):
        export_folder.read(run_dir / export_folder.EXPORT_DIR)  # a damaged export is one line, not a pushed repository
        shutil.copytree(run_dir / export_folder.EXPORT_DIR, into / export_folder.EXPORT_DIR)
    for name in REPORT_FILES:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, into / name)
    model_card.render_card(cfg, metrics, run_dir).save(into / "README.md")
    return into


def push(run_dir: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload a finished run to the Hub (create_repo + upload_folder); HF_TOKEN or the saved login.
    A failure raises a one-line UserError and leaves the run directory as it was."""
    import re
    import tempfile

    from huggingface_hub import HfApi

    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id or ""):
        raise UserError(f"--repo-id: {repo_id!r} is not OWNER/NAME")
    with tempfile.TemporaryDirectory(prefix="hf_transfer_push_") as tmp:
        folder = stage(run_dir, repo_id, Path(tmp) / "upload")
        api = HfApi(token=token)
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                                       commit_message="Upload model, card and report from hf-transfer")
        except Exception as e:  # network, auth, permissions: all one line for the user
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise UserError(f"push to {repo_id} failed ({type(e).__name__}: {reason}); "
                            "the run directory is unchanged") from e
    return getattr(commit, "commit_url", None) or f"https://huggingface.co/{repo_id}"
