"""Publishing: the exact folder, card and metadata that would go up, and a failed upload."""

import hashlib
import json
import subprocess

import pytest
from helpers import FakeApi, hf_transfer_cmd, tiny_config
from huggingface_hub import ModelCard

from hf_transfer import hub
from hf_transfer.errors import UserError
from hf_transfer.runs.pipeline import run_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_timm, cifar_like):
    out = tmp_path_factory.mktemp("runs") / "pushme"
    run_config(tiny_config(out, tiny_timm, cifar_like, train={"epochs": 1}))
    return out


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_push_uploads_model_card_and_report(finished, monkeypatch):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    before = _digest(finished)
    url = hub.push(finished, "me/tiny-cifar", private=True)
    assert url.endswith("/commit/1") and FakeApi.calls[0] == ("create_repo", "me/tiny-cifar", True)
    _, repo, files = FakeApi.calls[1]
    assert repo == "me/tiny-cifar"
    assert {"config.json", "model.safetensors", "README.md", "report.md", "metrics.json", "config.yaml"} <= set(files)
    card = ModelCard(files["README.md"].decode())
    assert card.data.model_name == "me/tiny-cifar" and 'hf-hub:me/tiny-cifar' in card.text
    metrics = json.loads((finished / "metrics.json").read_text())["final"]
    values = {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert values[("test", "accuracy")] == pytest.approx(metrics["test"]["accuracy"])
    assert _digest(finished) == before  # the run directory is only read


def test_failed_upload_says_why_and_changes_nothing(finished, monkeypatch):
    import huggingface_hub

    class Down(FakeApi):
        def create_repo(self, *a, **k):
            raise ConnectionError("Name or service not known\nmore detail")

    monkeypatch.setattr(huggingface_hub, "HfApi", Down)
    before = _digest(finished)
    with pytest.raises(UserError) as e:
        hub.push(finished, "me/tiny-cifar")
    assert "push to me/tiny-cifar failed (ConnectionError: Name or service not known)" in str(e.value)
    assert "\n" not in str(e.value) and _digest(finished) == before


def test_push_cli_offline_is_one_line_and_exit_2(finished, cli_env):
    before = _digest(finished)
    result = subprocess.run(hf_transfer_cmd("push", str(finished), "--repo-id", "me/tiny"), env=cli_env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("hf-transfer: error: push to me/tiny failed")
    assert _digest(finished) == before
    bad = subprocess.run(hf_transfer_cmd("push", str(finished), "--repo-id", "no-owner"), env=cli_env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "is not OWNER/NAME" in bad.stderr
