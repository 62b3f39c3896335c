"""The same run under `accelerate launch --multi_gpu --num_processes 2` on CPU: every eval sample counted once.

(accelerate starts several processes through torchrun only with --multi_gpu; on a machine without
CUDA, hf-transfer then trains them on the CPU over gloo.)
"""

import json
import subprocess
import sys

import pytest
import torch
import yaml
from helpers import ROOT

# two processes need two GPUs where there are GPUs (rank 1 asks for cuda:1), or none (gloo on the CPU)
pytestmark = pytest.mark.skipif(torch.cuda.device_count() == 1, reason="one GPU: two processes need two GPUs or none")


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, tiny_timm, cifar_like):
    tmp = tmp_path_factory.mktemp("ddp")
    values = {"name": "ddp", "output_dir": str(tmp / "out"), "model": {"name": str(tiny_timm)},
              "data": {"dataset": str(cifar_like), "eval_splits": ["test"], "image_size": 32},
              # 18 test samples in batches of 4: 5 batches, so one process gets a padded last batch
              "train": {"epochs": 2, "batch_size": 4, "eval_batch_size": 4, "lr": 1e-2}}
    (tmp / "c.yaml").write_text(yaml.safe_dump(values))
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "hf_transfer.cli", "run", str(tmp / "c.yaml")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "out", json.loads((tmp / "out" / "metrics.json").read_text())


def test_two_processes_ran(two_process_run):
    _, metrics = two_process_run
    assert metrics["environment"]["num_processes"] == 2 and metrics["status"] == "finished"


def test_each_eval_sample_is_counted_once(two_process_run, cifar_like):
    import datasets
    import timm
    from PIL import Image  # noqa: F401

    out, metrics = two_process_run
    test = datasets.load_from_disk(str(cifar_like))["test"]
    assert metrics["final"]["test"]["num_samples"] == len(test) == 18
    confusion = metrics["final"]["test"]["confusion_matrix"]
    assert [sum(row) for row in confusion] == [6, 6, 6]  # the true class counts, none doubled
    # the saved model, evaluated in one process, gives the same accuracy
    model = timm.create_model(f"local-dir:{out / 'model'}", pretrained=True).eval()
    transform = timm.data.create_transform(**timm.data.resolve_model_data_config(model))
    with torch.no_grad():
        x = torch.stack([transform(img.convert("RGB")) for img in test["img"]])
        preds = model(x).argmax(-1)
    accuracy = (preds == torch.tensor(test["label"])).float().mean().item()
    assert metrics["final"]["test"]["accuracy"] == pytest.approx(accuracy)
