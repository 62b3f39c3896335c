"""`hf-transfer export`: every saved form as ONNX, answering as PyTorch does on the run's own test rows, and run
by onnxruntime alone: `predict --backend onnx`, `hf_transfer.load(EXPORT)`, in a process where torch cannot load."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import cli, one_error_line, run

import hf_transfer

FORMS = {  # name: (library, strategy, config sections)
    "timm": ("timm", {"name": "full"}, {}),
    "timm_hidden_layers": ("timm", {"name": "head", "head": {"hidden": [8]}}, {}),
    "text_cls_pooler": ("transformers", {"name": "full"}, {}),
    "text_mean_pooling": ("transformers", {"name": "full"}, {"model": {"pooling": "mean"}}),
    "text_bottleneck": ("transformers", {"name": "full"}, {"model": {"bottleneck": 8}}),
    "text_lora_merged": ("transformers", {"name": "lora"}, {}),
    "text_frozen_logreg": ("transformers", {"name": "frozen_logreg"}, {}),
    "vit": ("vit", {"name": "full"}, {}),  # a transformers image model
    "vit_bottleneck": ("vit", {"name": "full"}, {"model": {"bottleneck": 8}}),
}


def _run(tmp_path, assets, form: str):
    library, strategy, sections = FORMS[form]
    out, _ = run(tmp_path, library, assets, strategy, train={"epochs": 1, "lr": 1e-2}, **sections)
    return out


def _inputs(out) -> list:
    """The run's own test rows (texts, or PIL images)."""
    clf = hf_transfer.load(out)
    from hf_transfer.data.splits import build_splits

    splits = build_splits(clf.config.data, clf.modality, seed=clf.config.train.seed)
    return next(iter(splits.evals.values()))[clf.modality]


@pytest.mark.parametrize("form", FORMS)
def test_each_saved_form_exports_with_pytorchs_probabilities(form, tmp_path, assets, tiny_vit):
    from hf_transfer.onnx_export import export

    out = _run(tmp_path, {**assets, "vit": (tiny_vit, assets["timm"][1])}, form)
    spec = export(str(out))
    check = spec["check"]
    assert check["fp32"]["max_abs_diff"] <= 1e-4 and check["fp32"]["label_agreement"] == 1.0, check
    written = json.loads((out / "onnx" / "export.json").read_text())
    assert written["check"] == check and written["label_names"] == hf_transfer.load(out).label_names
    fitted = (json.loads((out / "metrics.json").read_text())["calibration"] or {}).get("temperature")
    assert written["temperature"]["value"] == fitted  # the run's, read from its folder
    inputs = _inputs(out)  # run by onnxruntime from the export folder, prepared without PyTorch
    ours = np.array([[r["probabilities"][n] for n in written["label_names"]]
                     for r in hf_transfer.load(out).predict(inputs)])
    onnx = np.array([[r["probabilities"][n] for n in written["label_names"]]
                     for r in hf_transfer.load(out, backend="onnx").predict(inputs)])
    np.testing.assert_allclose(onnx, ours, atol=1e-4)
    assert (onnx.argmax(1) == ours.argmax(1)).all()


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, tiny_bert, sst2_like):
    from helpers import config

    from hf_transfer.runs.pipeline import run_config

    tmp = tmp_path_factory.mktemp("export_text")
    run_config(config(tmp, "transformers", {"transformers": (tiny_bert, sst2_like)}, {"name": "full"},
                      train={"epochs": 1, "lr": 1e-2}, model={"pooling": "mean"}))
    return tmp / "run"


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, tiny_timm, cifar_like):
    from helpers import config

    from hf_transfer.runs.pipeline import run_config

    tmp = tmp_path_factory.mktemp("export_image")
    run_config(config(tmp, "timm", {"timm": (tiny_timm, cifar_like)}, {"name": "full"}, train={"epochs": 1, "lr": 1e-2}))
    return tmp / "run"


def _images(folder, sizes) -> list:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate(sizes):
        paths.append(folder / f"{i}.png")
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(paths[-1])
    return paths


@pytest.mark.parametrize("sizes", [[(32, 32)] * 3, [(20, 20), (50, 40), (32, 64)]], ids=["one_size", "mixed_sizes"])
def test_images_are_prepared_without_pytorch_as_the_run_prepared_them(sizes, image_run, tmp_path):
    """One size: the tensor pipeline's crop (preprocess.onnx); mixed or larger: timm's eval transform in numpy."""
    from hf_transfer.onnx_export import export

    export(str(image_run), tmp_path / "onnx")
    paths = _images(tmp_path / "images", sizes)
    torch_p = np.array([list(r["probabilities"].values()) for r in hf_transfer.load(image_run).predict(paths)])
    onnx_p = np.array([list(r["probabilities"].values()) for r in hf_transfer.load(tmp_path / "onnx").predict(paths)])
    np.testing.assert_allclose(onnx_p, torch_p, atol=1e-4)


BLOCKED = """
import importlib.util, json, sys
assert importlib.util.find_spec("torch") is None  # not installed, as far as this process can tell
import hf_transfer
from hf_transfer.cli import main
print(json.dumps([r["label"] for r in hf_transfer.load(sys.argv[1]).predict(json.loads(sys.argv[2]))]))
code = main(["predict", sys.argv[1], "--input", sys.argv[3], "-o", sys.argv[4]])
assert code == 0 and not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
"""


def _without_torch(tmp_path) -> str:
    """A Python that sees every installed package but PyTorch (and what only it uses): a fresh virtual environment
    whose site-packages links to this one's entries (links, so that modules keep site-packages paths, which
    datasets' hashing relies on); its interpreter's path."""
    import sysconfig
    import venv

    site = Path(sysconfig.get_paths()["purelib"])
    env = tmp_path / "venv_without_torch"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    links = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip())
    for entry in site.iterdir():
        if not entry.name.lower().startswith(("torch", "functorch", "triton", "nvidia", "_distutils_hack", "distutils-")):
            (links / entry.name).symlink_to(entry)
    return str(python)


def test_an_export_predicts_where_torch_cannot_be_imported(text_run, image_run, tmp_path, cli_env):
    import pandas as pd

    from hf_transfer.onnx_export import export

    python = _without_torch(tmp_path)
    texts = ["good great fine", "bad awful poor sad ugly", "red"]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    images = [str(p) for p in _images(tmp_path / "images", [(32, 32)] * 2)]
    for out, inputs, path in ((text_run, texts, tmp_path / "texts.txt"), (image_run, images, tmp_path / "images")):
        folder = export(str(out), tmp_path / f"onnx_{out.parent.name}")["folder"]
        result = subprocess.run([python, "-c", BLOCKED, folder, json.dumps(inputs), str(path),
                                 str(tmp_path / f"{out.parent.name}.csv")], capture_output=True, text=True, env=cli_env)
        assert result.returncode == 0, result.stderr[-3000:]
        expected = [r["label"] for r in hf_transfer.load(out).predict(inputs)]  # PyTorch, in this process
        assert json.loads(result.stdout.splitlines()[0]) == expected
        assert pd.read_csv(tmp_path / f"{out.parent.name}.csv", dtype=str)["label"].tolist() == expected


@pytest.mark.parametrize("kind", ["text", "image"])
def test_int8_is_quantised_checked_and_refused_past_the_drop(kind, text_run, image_run, tmp_path):
    import onnx

    from hf_transfer.errors import UserError
    from hf_transfer.onnx_export import export

    out = text_run if kind == "text" else image_run
    spec = export(str(out), tmp_path / "int8", quantize="int8", force=True)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "int8" / "model.onnx")).graph.node}
    assert ({"DynamicQuantizeLinear", "MatMulInteger"} if kind == "text" else {"QuantizeLinear", "DequantizeLinear"}) <= ops
    if kind == "image":  # the static recipe chosen by agreement with fp32 on validation rows, each one's said
        from hf_transfer.onnx_export import STATIC_RECIPES

        chosen = spec["quantization"]
        assert set(chosen["agreement_by_recipe"]) == set(STATIC_RECIPES) and "never test rows" in chosen["chosen_on"]
        assert chosen["agreement_by_recipe"][chosen["recipe"]] == max(chosen["agreement_by_recipe"].values())
    int8 = spec["check"]["int8"]
    assert 0 <= int8["label_agreement"] <= 1 and {"accuracy", "macro_f1", "max_abs_diff"} <= set(int8)
    assert spec["check"]["fp32"]["accuracy"] == spec["check"]["pytorch"]["accuracy"]
    predicted = hf_transfer.load(tmp_path / "int8").predict(["good great fine"] if kind == "text" else
                                                            _images(tmp_path / "images", [(32, 32)]))
    assert predicted[0]["label"] in spec["label_names"]
    with pytest.raises(UserError, match=r"--max-drop -1 .*nothing written \(--force"):
        export(str(out), tmp_path / "refused", quantize="int8", max_drop=-1.0)
    assert not (tmp_path / "refused").exists()


def test_push_carries_the_export_and_the_cards_onnxruntime_code_runs(text_run, tmp_path, monkeypatch):
    import huggingface_hub
    from helpers import FakeApi
    from huggingface_hub import ModelCard

    from hf_transfer import hub
    from hf_transfer.onnx_export import export

    export(str(text_run), overwrite=True)  # the run's own onnx/
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    hub.push(text_run, "me/tiny-text")
    files = FakeApi.calls[1][2]
    assert {"onnx/model.onnx", "onnx/export.json", "onnx/tokenizer.json", "model.safetensors"} <= set(files)
    card = ModelCard(files["README.md"].decode()).text
    code = card.split("### With onnxruntime alone")[1].split("```python\n")[1].split("```")[0]
    for name, content in files.items():
        (tmp_path / "repo" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "repo" / name).write_bytes(content)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: str(tmp_path / "repo"))
    printed = []
    exec(code, {"print": printed.append})
    assert printed == [hf_transfer.load(text_run).predict(["some text"])[0]["label"]]


def test_evaluate_scores_an_export_as_it_scores_the_model(text_run, sst2_like, tmp_path):
    from hf_transfer.evaluation import evaluate
    from hf_transfer.onnx_export import export

    folder = export(str(text_run), tmp_path / "onnx")["folder"]
    ours = evaluate(str(text_run), [str(sst2_like)], tmp_path / "torch", split="validation")
    onnx = evaluate(folder, [str(sst2_like)], tmp_path / "onnx_eval", split="validation")
    assert onnx["library"] == "onnxruntime" and onnx["parameters"]["total"] == ours["parameters"]["total"]
    for key in ("accuracy", "f1_macro"):
        assert onnx["final"]["sst2_like"][key] == ours["final"]["sst2_like"][key]
    assert abs(onnx["final"]["sst2_like"]["loss"] - ours["final"]["sst2_like"]["loss"]) < 1e-4


def _refused(args, capsys) -> str:
    return one_error_line(cli(args, capsys))


def test_bad_exports_are_one_line(text_run, text_like, tmp_path, capsys):
    from hf_transfer.onnx_export import export

    assert "'int4' is not one of none, int8" in _refused(["export", str(text_run), "--quantize", "int4",
                                                           "-o", str(tmp_path / "x")], capsys)
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "config.yaml").write_text((text_run / "config.yaml").read_text())
    assert "has no model/" in _refused(["export", str(tmp_path / "unfinished")], capsys)
    folder = export(str(text_run), tmp_path / "onnx")["folder"]
    assert "exists; pass --overwrite" in _refused(["export", str(text_run), "-o", folder], capsys)
    assert "is an ONNX export (export.json), which has no PyTorch weights" in _refused(["export", folder], capsys)
    assert "which has no PyTorch weights" in _refused(["predict", folder, "--backend", "torch", "--input",
                                                        str(text_run / "config.yaml"), "-o", str(tmp_path / "p.csv")], capsys)
    assert "model.name: " in _refused(["run", "--model", folder, "--dataset", str(text_like),
                                       "--output-dir", str(tmp_path / "r")], capsys)
    assert "-o: " in _refused(["export", str(text_run), "-o", str(text_run / "model" / "onnx")], capsys)
    assert "torch.onnx could not export the model at opset 7" in _refused(["export", str(text_run), "--opset", "7",
                                                                            "-o", str(tmp_path / "old")], capsys)
    spec = json.loads((tmp_path / "onnx" / "export.json").read_text())
    (tmp_path / "onnx" / "export.json").write_text(json.dumps({**spec, "label_names": ["a", "a"]}))
    assert "label_names must be a list of distinct strings" in _refused(
        ["predict", folder, "--input", str(text_run / "config.yaml"), "-o", str(tmp_path / "p.csv")], capsys)


def test_forms_that_cannot_be_exported_say_why(tmp_path, assets, capsys):
    lora = run(tmp_path, "transformers", assets, {"name": "lora", "lora": {"save": "adapter"}}, name="lora",
               train={"epochs": 1})[0]
    assert "holds a LoRA adapter alone" in _refused(["export", str(lora)], capsys)
    tfidf = run(tmp_path, "transformers", assets, {"name": "tfidf_logreg"}, name="tfidf")[0]
    assert "TF-IDF baseline" in _refused(["export", str(tfidf)], capsys)
    assert "has no ONNX export" in _refused(["predict", str(tfidf), "--backend", "onnx", "--input",
                                             str(tfidf / "config.yaml"), "-o", str(tmp_path / "p.csv")], capsys)
