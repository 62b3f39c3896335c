"""The speed options: length-grouped batches, padding to max length, the tensor image pipeline,
and the GPU flags' CPU behaviour. Speed itself is measured in benchmarks/, never here."""

import numpy as np
import pytest
import torch
from accelerate.utils import send_to_device
from helpers import tiny_config

from hf_transfer.data.loaders import EpochSampler, build_loaders
from hf_transfer.data.splits import build_splits
from hf_transfer.data.tensor_images import crop_grid
from hf_transfer.errors import ConfigError
from hf_transfer.models import load_backbone
from hf_transfer.runs.optim import make_optimizer
from hf_transfer.runs.pipeline import run_config


def test_length_grouped_sampler_is_a_seeded_permutation_with_similar_lengths_per_batch():
    lengths = list(np.random.default_rng(0).integers(1, 200, 1000))
    s = EpochSampler(1000, seed=3, lengths=lengths, batch_size=10)
    s.begin(2)
    order = [k - 2 * 1000 for k in s]
    assert sorted(order) == list(range(1000))
    again = EpochSampler(1000, seed=3, lengths=lengths, batch_size=10)
    again.begin(2, skip=130)
    assert [k - 2000 for k in again] == order[130:]  # resumable part-way
    spread = lambda idx: np.mean([np.ptp([lengths[i] for i in idx[b:b + 10]]) for b in range(0, 1000, 10)])  # noqa: E731
    plain = EpochSampler(1000, seed=3)
    plain.begin(2)
    assert spread(order) < 0.2 * spread([k - 2000 for k in plain])


def _text_batches(tiny_bert, text_like, tmp_path, **data):
    cfg = tiny_config(tmp_path, tiny_bert, text_like, data={"max_length": 24, **data})
    splits = build_splits(cfg.data, cfg.modality, 0)
    model = load_backbone(cfg.model, splits.modality, splits.label_names)
    return build_loaders(splits, model, cfg.data, 4, 8, 0), model


def test_padding_to_max_length_and_dynamic_padding_give_the_same_predictions(tiny_bert, text_like, tmp_path):
    dynamic, model = _text_batches(tiny_bert, text_like, tmp_path)
    static, _ = _text_batches(tiny_bert, text_like, tmp_path, pad_to_max_length=True)
    model.eval()
    with torch.no_grad():
        a = torch.cat([model(b) for b in dynamic.evals["test"]])
        b = torch.cat([model(b) for b in static.evals["test"]])
    assert {x["input_ids"].shape[1] for x in static.evals["test"]} == {24}
    assert max(x["input_ids"].shape[1] for x in dynamic.evals["test"]) < 24
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def _image_loaders(tiny_timm, cifar_like, tmp_path, pipeline: str):
    cfg = tiny_config(tmp_path, tiny_timm, cifar_like, data={"pipeline": pipeline})
    splits = build_splits(cfg.data, cfg.modality, 0)
    model = load_backbone(cfg.model, splits.modality, splits.label_names)
    return build_loaders(splits, model, cfg.data, 4, 8, 0)


def test_tensor_pipeline_matches_the_pil_pipeline_at_eval(tiny_timm, cifar_like, tmp_path):
    tensor = _image_loaders(tiny_timm, cifar_like, tmp_path, "tensor")
    pil = _image_loaders(tiny_timm, cifar_like, tmp_path, "pil")
    assert (tensor.pipeline, pil.pipeline) == ("tensor", "pil")
    x = torch.cat([tensor.on_device(b, False)["pixel_values"] for b in tensor.evals["test"]])
    y = torch.cat([b["pixel_values"] for b in pil.evals["test"]])
    assert x.shape == y.shape
    # the same crop and normalisation; torch's and PIL's bicubic kernels differ (most on these noise images)
    assert torch.corrcoef(torch.stack([x.flatten(), y.flatten()]))[0, 1] > 0.95
    assert (x - y).abs().mean() < 0.15 * y.abs().mean()
    batch = next(iter(tensor.train))
    one, two = tensor.on_device(dict(batch), True)["pixel_values"], tensor.on_device(dict(batch), True)["pixel_values"]
    assert torch.equal(one, two)  # augmentation seeded by the batch's keys


def test_tensor_pipeline_refuses_augmentations_it_does_not_implement(tiny_timm, cifar_like, tmp_path):
    with pytest.raises(ConfigError, match="^data.pipeline: "):
        tiny_config(tmp_path, tiny_timm, cifar_like, data={"pipeline": "tensor", "augment": {"re_prob": 0.25}})
    cfg = tiny_config(tmp_path, tiny_timm, cifar_like, data={"augment": {"re_prob": 0.25}})
    splits = build_splits(cfg.data, cfg.modality, 0)
    model = load_backbone(cfg.model, splits.modality, splits.label_names)
    assert build_loaders(splits, model, cfg.data, 4, 8, 0).pipeline == "pil"


def test_crop_grid_is_affine_grid_of_the_crop_and_flip():
    g = torch.Generator().manual_seed(0)
    box = torch.cat([torch.rand(6, 2, generator=g) - 0.5, 0.2 + torch.rand(6, 2, generator=g) * 0.8], 1)
    flip = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    theta = torch.zeros(6, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = box[:, 2] * flip, box[:, 3]
    theta[:, 0, 2], theta[:, 1, 2] = box[:, 0], box[:, 1]
    expected = torch.nn.functional.affine_grid(theta, [6, 3, 7, 11], align_corners=False)
    torch.testing.assert_close(crop_grid(box, flip, (7, 11)), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_tensor_pipeline_on_a_gpu_matches_the_cpu_and_never_makes_the_host_wait(tiny_timm, cifar_like, tmp_path):
    loaders = _image_loaders(tiny_timm, cifar_like, tmp_path, "tensor")
    batch = next(iter(loaders.train))
    on_cpu = loaders.on_device(dict(batch), True)["pixel_values"]
    on_gpu = send_to_device(dict(batch), torch.device("cuda"))
    loaders.on_device(dict(on_gpu), False)  # the first call copies the normalisation constants over
    torch.cuda.set_sync_debug_mode("error")  # from here any host-device synchronisation raises
    try:
        train_x = loaders.on_device(dict(on_gpu), True)["pixel_values"]
        eval_x = loaders.on_device(dict(on_gpu), False)["pixel_values"]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.testing.assert_close(train_x.cpu(), on_cpu, atol=1e-3, rtol=1e-4)  # the same augmentation draws
    assert eval_x.shape == train_x.shape


def test_gpu_flags_run_anywhere(tiny_timm, cifar_like, tmp_path):
    cfg = tiny_config(tmp_path, tiny_timm, cifar_like, train={"channels_last": True, "fused_optimizer": False,
                                                               "epochs": 1})
    m = run_config(cfg)
    assert m["status"] == "finished" and m["batch_size"] == 8
    assert ("peak_gpu_memory_mb" in m["timings"]) == torch.cuda.is_available()  # the run is on a GPU where there is one
    assert m["timings"]["peak_host_memory_mb"] > 100  # torch alone is bigger
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert make_optimizer([{"params": params}], cfg.train, torch.device("cpu")).defaults.get("fused") in (None, False)


def test_deterministic_sets_the_process_wide_switches_and_unsets_them(tiny_timm, cifar_like, tmp_path):
    """train.deterministic turns torch's deterministic algorithms on for its run, and a later run without it
    turns them off again (the switch is process-wide; a recipe of several runs must not inherit it)."""
    from hf_transfer.runs.loop_run import _accelerator

    try:
        _accelerator(tiny_config(tmp_path / "a", tiny_timm, cifar_like, train={"deterministic": True}))
        assert torch.are_deterministic_algorithms_enabled()
        if torch.cuda.is_available():
            assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
            assert not torch.backends.cuda.matmul.allow_tf32
        _accelerator(tiny_config(tmp_path / "b", tiny_timm, cifar_like, train={"deterministic": False}))
        assert not torch.are_deterministic_algorithms_enabled()
        if torch.cuda.is_available():
            assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    finally:
        torch.use_deterministic_algorithms(False)
