"""A damaged or tampered model folder is refused with one line by every command that loads one, never a traceback,
a huge allocation or a model that predicts other numbers without a word: each variant is a row here (the
neighbour of tests/test_bad_inputs.py for model folders)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import cli, one_error_line, tiny_config

from hf_transfer.runs.pipeline import run_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_bert, tiny_timm, sst2_like, cifar_like):
    """A finished text run (mean pooling: the hf_transfer form), an image run, and a TF-IDF run."""
    root = tmp_path_factory.mktemp("saved")
    runs = {"text": (tiny_bert, sst2_like, {"model": {"name": str(tiny_bert), "pooling": "mean"}}),
            "image": (tiny_timm, cifar_like, {}),
            "tfidf": (tiny_bert, sst2_like, {"strategy": {"name": "tfidf_logreg"}})}
    for name, (model, data, sections) in runs.items():
        extra = {"data": {"eval_splits": ["validation"]}} if data == sst2_like else {}
        run_config(tiny_config(root / name, model, data, train={"epochs": 1}, **extra, **sections))
    return root


def _config(edit):
    def apply(folder):
        config = json.loads((folder / "config.json").read_text())
        edit(config.get("encoder", config) if edit.__name__ == "encoder" else config)
        (folder / "config.json").write_text(json.dumps(config))
    return apply


def _labels(names):
    def edit(config):
        if "id2label" in config:
            config["id2label"] = {str(i): n for i, n in enumerate(names)}
        else:
            config["label_names"] = names
    return _config(edit)


def _tfidf(edit):
    def apply(folder):
        saved = json.loads((folder / "tfidf.json").read_text())
        edit(saved)
        (folder / "tfidf.json").write_text(json.dumps(saved))
    return apply


def _encoder_sets(**values):
    def encoder(config):
        config.update(values)
    return _config(encoder)


DAMAGE = {  # name: (run, damage, words of the one line)
    "weights missing": ("text", lambda f: (f / "model.safetensors").unlink(), "no file named model.safetensors"),
    "weights garbage": ("image", lambda f: (f / "model.safetensors").write_bytes(b"not a tensor file" * 4),
                        "deserializing header"),
    "config not JSON": ("text", lambda f: (f / "config.json").write_text("{nope"), "config.json is not readable JSON"),
    "config a list": ("image", lambda f: (f / "config.json").write_text("[1, 2]"), "is not a JSON object"),
    "form with unknown keys": ("text", _config(lambda c: c.update(run_this="x")), "unknown keys run_this"),
    "id2label keys not ids": ("text", _config(lambda c: c.update(id2label={"a": "x", "b": "y", "c": "z"})),
                              "id2label must map the class ids 0..n-1"),
    "labels missing": ("image", _config(lambda c: c.pop("label_names")), "has no class names"),
    "labels short": ("text", _labels(["x", "y"]), "do not match 2 classes"),
    "labels longer than the classes": ("image", _labels(["a", "b", "c", "d", "e"]), "do not match 5 classes"),
    "labels twice": ("text", _labels(["x", "x", "y"]), "the class name 'x' is given twice"),
    "negative layer count": ("text", _encoder_sets(num_hidden_layers=-1), "num_hidden_layers = -1 is out of range"),
    "huge width": ("text", _encoder_sets(hidden_size=2 ** 40), "hidden_size = 1099511627776 is out of range"),
    "pooling unknown": ("text", _config(lambda c: c.update(pooling={"mode": "weird", "normalize": True})),
                        "pooling must be"),
    "head with negative width": ("text", _config(lambda c: c.update(head={"hidden": [-4], "dropout": 0.1, "mlp_in": 32})),
                                 "the head is not one hf-transfer saves"),
    "tokenizer missing": ("text", lambda f: [p.unlink() for p in f.glob("tokenizer*")], "has no tokenizer that loads"),
    "tfidf.json not JSON": ("tfidf", lambda f: (f / "tfidf.json").write_text("{"), "tfidf.json is not readable JSON"),
    "tfidf.json unknown keys": ("tfidf", _tfidf(lambda s: s.update(extra=1)), "expected the keys label_names"),
    "tfidf huge n-gram range": ("tfidf", _tfidf(lambda s: s["vectorizer"].update(ngram_range=[1, 100000])),
                                "vectorizer.ngram_range = [1, 100000] is not a value hf-transfer writes"),
    "tfidf catastrophic pattern": ("tfidf", _tfidf(lambda s: s["vectorizer"].update(token_pattern="(a+)+b")),
                                   "vectorizer.token_pattern = '(a+)+b' is not a value"),
    "tfidf index out of range": ("tfidf", _tfidf(lambda s: s["vocabulary"].update({next(iter(s["vocabulary"])): 10 ** 6})),
                                 "vocabulary must map each term"),
    "tfidf tensors missing": ("tfidf", lambda f: (f / "tfidf.safetensors").unlink(), "not a readable safetensors file"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_model_folder_is_one_line_in_predict_and_evaluate(case, saved, tmp_path, capsys, sst2_like, cifar_like):
    run, damage, words = DAMAGE[case]
    folder = tmp_path / "model"
    shutil.copytree(saved / run / "model", folder)
    damage(folder)
    data = cifar_like if run == "image" else sst2_like
    rows = tmp_path / "rows.txt"
    rows.write_text("good great fine\nbad awful\n")
    inputs = str(rows)
    if run == "image":
        inputs = str(tmp_path / "images")
        _images(inputs)
    predicted = one_error_line(cli(["predict", str(folder), "--input", inputs, "-o", str(tmp_path / "p.csv")], capsys))
    assert words in predicted, predicted
    evaluated = one_error_line(cli(["evaluate", str(folder), "--dataset", str(data), "--split",
                                    "test" if run == "image" else "validation", "-o", str(tmp_path / "e")], capsys))
    assert words in evaluated and not (tmp_path / "e").exists()


def _images(folder):
    from PIL import Image

    Path(folder).mkdir()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(f"{folder}/a.png")


def test_a_backbone_whose_source_head_repeats_a_class_name_still_loads_as_a_backbone(tmp_path, tiny_timm):
    """ImageNet names two classes 'crane' (the bird, the machine): a backbone's source head may repeat a name (it is
    replaced); only a classifier loaded to predict must name each class once."""
    from hf_transfer.config import ModelConfig
    from hf_transfer.models import load_backbone

    folder = tmp_path / "imagenet_like"
    shutil.copytree(tiny_timm, folder)
    _labels(["crane", "crane", "x", "y", "z"])(folder)
    model = load_backbone(ModelConfig(name=str(folder)), "image", ["a", "b"])
    assert model.label_names == ["a", "b"] and model.head_is_new
