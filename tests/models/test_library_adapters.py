"""A third library is one adapter: registered from this file, it resolves by its prefix and by its saved
folders, trains through the loop with a strategy that reads layer groups, saves in its own format, reloads
and predicts, without a line of the package knowing it."""

import json

import datasets
import pytest
import torch
from helpers import tiny_config
from safetensors.torch import load_file, save_file
from torch import nn

from hf_transfer.models import load_backbone, register_library, resolve
from hf_transfer.models.adapter import Adapter, Loaded
from hf_transfer.models.names import unregister_library


class ToyNet(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, stride=2)
        self.body = nn.Conv2d(4, 8, 3, stride=2)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = torch.relu(self.body(torch.relu(self.stem(x))))
        return self.fc(x.mean((2, 3)))


class ToyAdapter(Adapter):
    """A library of one architecture, saved as config.json {"toy": ...} + model.safetensors."""

    name, prefix, modalities = "toy", "toy:", ("image",)
    loads = []

    def claims_folder(self, config):
        return "toy" in config

    def load(self, ref, local, cfg, modality, label_names, exported):
        self.loads.append(ref)
        net = ToyNet(len(label_names))
        head_loaded = False
        if local and cfg.pretrained:
            weights = load_file(f"{ref}/model.safetensors")
            head_loaded = weights["fc.weight"].shape[0] == len(label_names)
            net.load_state_dict(weights if head_loaded else {k: v for k, v in weights.items() if not k.startswith("fc.")},
                                strict=head_loaded)
        data_config = {"input_size": (3, 32, 32), "mean": (0.5,) * 3, "std": (0.5,) * 3, "interpolation": "bilinear",
                       "crop_pct": 1.0}
        return Loaded(net, "fc", None, data_config, head_loaded)

    def save(self, model, directory, image_size):
        save_file({k: v.contiguous() for k, v in model.net.state_dict().items()}, str(directory / "model.safetensors"))
        (directory / "config.json").write_text(json.dumps({"toy": "ToyNet", "label_names": model.label_names}))

    def layer_groups(self, model, names):
        return [[n for n in names if ".stem." in n], [n for n in names if ".stem." not in n]]


@pytest.fixture
def toy():
    adapter = register_library(ToyAdapter())
    yield adapter
    unregister_library("toy")


def test_a_registered_library_resolves_by_prefix_and_by_folder(toy, tmp_path):
    assert resolve("toy:tiny").adapter is toy
    (tmp_path / "config.json").write_text(json.dumps({"toy": "ToyNet"}))
    assert resolve(str(tmp_path)).adapter is toy
    assert resolve("timm:resnet18").adapter.name == "timm"  # the others are unchanged


def test_a_third_library_trains_saves_reloads_and_predicts(toy, tmp_path, cifar_like):
    import hf_transfer
    from hf_transfer.config import ModelConfig
    from hf_transfer.runs.pipeline import run_config

    out = tmp_path / "run"
    cfg = tiny_config(out, "toy:tiny", cifar_like, strategy={"name": "discriminative_lr"})
    model_before = load_backbone(ModelConfig(name="toy:tiny"), "image", ["airplane", "bird", "cat"])
    assert [len(g) for g in model_before.layer_groups()] == [2, 2, 2]  # the adapter's groups, then the head
    metrics = run_config(cfg)
    assert metrics["status"] == "finished" and metrics["library"] == "toy"
    saved = json.loads((out / "model" / "config.json").read_text())
    assert saved["label_names"] == ["airplane", "bird", "cat"]
    reloaded = load_backbone(ModelConfig(name=str(out / "model")), "image", saved["label_names"])
    assert reloaded.adapter is toy and not reloaded.head_is_new
    trained = load_file(str(out / "model" / "model.safetensors"))
    assert all(torch.equal(trained[k], v) for k, v in reloaded.net.state_dict().items())
    classifier = hf_transfer.load(out)  # predict reads the run's preprocessing: it scores the test set as the run did
    test = datasets.load_from_disk(str(cifar_like))["test"]
    predicted = [p["label"] for p in classifier.predict(list(test["img"]))]
    accuracy = sum(p == classifier.label_names[y] for p, y in zip(predicted, test["label"])) / len(test)
    assert classifier.library == "toy" and accuracy == pytest.approx(metrics["final"]["test"]["accuracy"])
