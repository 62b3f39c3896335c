"""What the tests share besides fixtures: the tiny data generators, a tiny config, the CLI command, and
one tiny run of a strategy on a timm or a transformers backbone (with its checks on weights)."""

from __future__ import annotations

import sys
from pathlib import Path

import datasets
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
WORDS = {0: ["good", "great", "fine", "nice", "happy"], 1: ["bad", "awful", "poor", "sad", "ugly"],
         2: ["red", "blue", "green", "pink", "grey"]}


def images(n_per_class: int, classes: int, size: int, seed: int):
    """Class k: a bright square at a class-specific place on noise; learnable in a few steps."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for k in range(classes):
        for _ in range(n_per_class):
            img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            r = (k * size // classes)
            img[r:r + size // classes, :, k % 3] = 255
            images.append(img)
            labels.append(k)
    return images, labels


def sentences(n_per_class: int, seed: int):
    rng = np.random.default_rng(seed)
    text, labels = [], []
    for k, words in WORDS.items():
        for _ in range(n_per_class):
            text.append(" ".join(rng.choice(words, size=int(rng.integers(3, 9)))))
            labels.append(k)
    return text, labels


def hf_transfer_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hf_transfer.cli", *args]


def cli(args: list[str], capsys):
    """`hf-transfer ARGS` in this process (no interpreter start-up: seconds a call on a small machine), as a
    result with returncode / stdout / stderr; for cases that need no environment, signal or process of their own."""
    from types import SimpleNamespace

    from hf_transfer.cli import main

    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    captured = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


def one_error_line(result) -> str:
    """The one `hf-transfer: error:` line of a refused command (exit status 2, no traceback)."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("hf-transfer: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def tiny_config(output_dir, model_name, dataset, **sections):
    """A Config for a tiny, fast run; `sections` update model/data/train/... fields."""
    from hf_transfer.config import from_dict

    values = {
        "name": "tiny", "output_dir": str(output_dir),
        "model": {"name": str(model_name)},
        "data": {"dataset": str(dataset), "eval_splits": ["test"], "image_size": 32, "max_length": 16},
        # deterministic: on a GPU too, the same seed gives the same weights (what the exact-resume tests compare)
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-2, "warmup_ratio": 0.1, "deterministic": True},
    }
    for key, update in sections.items():
        values[key] = {**values.get(key, {}), **update} if isinstance(update, dict) else update
    return from_dict(values)


def da_config(out, model, source, target, method="dann", **train):
    """A tiny domain-adaptation run: `method` from `source` to the unlabelled `target`."""
    return tiny_config(out, model, source, data={"target": {"dataset": str(target), "labelled_samples": 6}},
                       strategy={"name": method}, train={"batch_size": 6, **train})


KINDS = ["timm", "transformers"]
LABELS = {"timm": ["airplane", "bird", "cat"], "transformers": ["0", "1", "2"]}


def config(tmp_path, kind, assets, strategy: dict, name="run", **sections):
    model, data = assets[kind]
    extra = {"data": {"eval_splits": ["validation"]}} if kind == "transformers" else {}
    train_section = {"load_best_at_end": False, **sections.pop("train", {})}
    return tiny_config(tmp_path / name, model, data, strategy=strategy, train=train_section, **extra, **sections)


def run(tmp_path, kind, assets, strategy: dict, name="run", **sections):
    from hf_transfer.runs.pipeline import run_config

    cfg = config(tmp_path, kind, assets, strategy, name, **sections)
    return tmp_path / name, run_config(cfg)


def pretrained(kind, assets):
    """The backbone as loaded before training (its new head is random)."""
    from hf_transfer.config import ModelConfig
    from hf_transfer.models import load_backbone

    return load_backbone(ModelConfig(name=str(assets[kind][0])), "image" if kind == "timm" else "text", LABELS[kind])


def trained(kind, out):
    from hf_transfer.config import ModelConfig
    from hf_transfer.models import load_backbone

    return load_backbone(ModelConfig(name=str(out / "model")), "image" if kind == "timm" else "text", LABELS[kind])


def state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict, names) -> bool:
    return all(torch.equal(a[n], b[n]) for n in names)


def changed(a: dict, b: dict, names) -> bool:
    return all(not torch.equal(a[n], b[n]) for n in names if a[n].is_floating_point())


def strategy_cfg(**values):
    """A validated StrategyConfig from plain values, e.g. strategy_cfg(name="l2sp", l2sp={"alpha": 0.1})."""
    from hf_transfer.config import from_dict

    return from_dict({"strategy": values}).strategy


def image_target(path, train_labels=None, test_labels=None):
    """A target domain for cifar_like: other images (darker, shifted squares), same class names; `train_labels` /
    `test_labels` map a split's labels to others (scrambled ones, for the tests that no method reads them)."""
    names = ["airplane", "bird", "cat"]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    splits = {}
    for split, n, seed in (("train", 12, 11), ("test", 6, 12)):
        imgs, labels = images(n, 3, 16, seed)
        imgs = [np.roll(i // 2, 3, axis=1) for i in imgs]
        relabel = train_labels if split == "train" else test_labels
        labels = relabel(labels) if relabel is not None else labels
        splits[split] = datasets.Dataset.from_dict({"image": imgs, "label": labels}, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(path))
    return path


def text_target(path, train_labels=None):
    rng = np.random.default_rng(3)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["0", "1", "2"])})
    splits = {}
    for split, n in (("train", 12), ("test", 6)):
        text = [" ".join(rng.choice(WORDS[k], size=int(rng.integers(6, 14)))) + " indeed" for k in WORDS for _ in range(n)]
        labels = [k for k in WORDS for _ in range(n)]
        if split == "train" and train_labels is not None:
            labels = train_labels(labels)
        splits[split] = datasets.Dataset.from_dict({"text": text, "label": labels}, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(path))
    return path


class FakeApi:
    """Records create_repo / upload_folder instead of talking to the Hub (monkeypatched over huggingface_hub.HfApi)."""

    calls = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None):
        FakeApi.calls.append(("create_repo", repo_id, private))

    def upload_folder(self, folder_path, repo_id, repo_type=None, commit_message=None):
        files = {str(p.relative_to(folder_path)): p.read_bytes() for p in Path(folder_path).rglob("*") if p.is_file()}
        FakeApi.calls.append(("upload_folder", repo_id, files))
        return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/1"})()


def rendered_in_chromium(html_path, tmp_path) -> dict:
    """A self-contained report page as headless Chromium renders it, from a copy in another folder (the page must
    not need its neighbours): {tables, cells, images: [[complete, width, height], ...]}. Skipped without Chromium
    (`make test` installs it and sets HF_TRANSFER_REQUIRE_CHROMIUM, which turns the skip into a failure)."""
    import html
    import json
    import os
    import re
    import shutil
    import subprocess

    import pytest

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        if os.environ.get("HF_TRANSFER_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed (make test installs Debian's chromium package)")
        pytest.skip("chromium is not installed")
    page = Path(html_path).read_text()
    assert 'src="data:image/png;base64,' in page and ".png\"" not in page  # every image inlined
    probe = ("<script>window.addEventListener('load', () => document.body.setAttribute('data-probe', JSON.stringify({"
             "tables: document.querySelectorAll('table').length, cells: document.querySelectorAll('td').length,"
             "images: [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])})));</script>")
    copy = Path(tmp_path) / "probe.html"
    copy.write_text(page.replace("</body>", probe + "</body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", copy.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, dom[-2000:]
    rendered = json.loads(html.unescape(found.group(1)))
    assert len(rendered["images"]) == page.count("<img")
    return rendered
