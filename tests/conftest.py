"""Tiny models and data sets, made by the tests, in the formats the Hub serves.

Everything loads through the same code paths as Hub assets: a timm model saved in timm's Hub
format (config.json + model.safetensors), a BERT saved with save_pretrained plus its tokenizer,
data sets with the schemas the Hub serves (cifar10's ``img``/``label``, cifar100's
``fine_label``, sst2's ``sentence`` with an unlabelled (-1) test split).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # fail fast instead of retrying a Hub that cannot be reached
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from helpers import ROOT, WORDS, images, sentences  # noqa: E402 (after the environment above)


@pytest.fixture(scope="session")
def cifar_like(tmp_path_factory) -> Path:
    """A save_to_disk DatasetDict with cifar10's schema: img (Image), label (ClassLabel), train/test."""
    import datasets

    path = tmp_path_factory.mktemp("data") / "cifar_like"
    names = ["airplane", "bird", "cat"]
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    splits = {}
    for split, n, seed in (("train", 16, 0), ("test", 6, 1)):
        imgs, labels = images(n, 3, 16, seed)
        splits[split] = datasets.Dataset.from_dict({"img": imgs, "label": labels}, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(path))
    return path


@pytest.fixture(scope="session")
def cifar100_like(tmp_path_factory) -> Path:
    """cifar100's schema: img, fine_label, coarse_label."""
    import datasets

    path = tmp_path_factory.mktemp("data") / "cifar100_like"
    features = datasets.Features({"img": datasets.Image(), "fine_label": datasets.ClassLabel(names=["a", "b", "c"]),
                                  "coarse_label": datasets.ClassLabel(names=["x", "y"])})
    imgs, labels = images(6, 3, 16, 2)
    ds = datasets.Dataset.from_dict({"img": imgs, "fine_label": labels, "coarse_label": [y % 2 for y in labels]},
                                    features=features)
    datasets.DatasetDict(train=ds, test=ds).save_to_disk(str(path))
    return path


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """An imagefolder layout: train/<class>/*.png and test/<class>/*.png, 3 classes."""
    from PIL import Image

    root = tmp_path_factory.mktemp("data") / "folder"
    for split, n, seed in (("train", 8, 3), ("test", 4, 4)):
        imgs, labels = images(n, 3, 16, seed)
        for i, (img, y) in enumerate(zip(imgs, labels)):
            d = root / split / ["airplane", "bird", "cat"][y]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def sst2_like(tmp_path_factory) -> Path:
    """sst2's schema as csv files: idx, sentence, label; the test split is unlabelled (-1)."""
    import pandas as pd

    root = tmp_path_factory.mktemp("data") / "sst2_like"
    root.mkdir()
    for split, n, seed, unlabelled in (("train", 16, 5, False), ("validation", 4, 6, False), ("test", 4, 7, True)):
        text, labels = sentences(n, seed)
        labels = [-1] * len(labels) if unlabelled else labels
        pd.DataFrame({"idx": range(len(text)), "sentence": text, "label": labels}).to_csv(root / f"{split}.csv", index=False)
    return root


@pytest.fixture(scope="session")
def tiny_timm(tmp_path_factory) -> Path:
    """timm's test_efficientnet, saved in timm's Hub format with a 5-class 'source' head."""
    import timm
    import torch
    from timm.models import save_for_hf

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny_timm"
    model = timm.create_model("test_efficientnet", pretrained=False, num_classes=5)
    save_for_hf(model, path, model_config={"label_names": list("vwxyz")}, safe_serialization=True)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT with a word-level vocabulary, saved with save_pretrained (+ tokenizer)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny_bert"
    path.mkdir(exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted({w for ws in WORDS.values() for w in ws})
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt")).save_pretrained(path)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    BertModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_sentence_model(tiny_bert, tmp_path_factory) -> Path:
    """The tiny BERT in the sentence-transformers layout: mean pooling, then normalisation."""
    import shutil

    from hf_transfer.models import pooling

    path = tmp_path_factory.mktemp("models") / "tiny_st"
    shutil.copytree(tiny_bert, path)
    pooling.write(path, pooling.Pooling("mean", normalize=True), dim=32)
    return path


@pytest.fixture
def cli_env(tmp_path) -> dict:
    """Environment for CLI subprocesses: offline, the checkout importable, one thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["HF_TRANSFER_CACHE"] = env.get("HF_TRANSFER_CACHE", str(Path.home() / ".cache" / "hf_transfer"))
    return env


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory) -> Path:
    """A tiny ViT image classifier and its image processor, saved with save_pretrained."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny_vit"
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=37, num_labels=4)
    ViTForImageClassification(config).save_pretrained(path)
    ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def text_like(tmp_path_factory) -> Path:
    """imdb / ag_news schema as parquet files: text, label; train and test."""
    import pandas as pd

    root = tmp_path_factory.mktemp("data") / "text_like"
    root.mkdir()
    for split, n, seed in (("train", 16, 8), ("test", 6, 9)):
        text, labels = sentences(n, seed)
        pd.DataFrame({"text": text, "label": labels}).to_parquet(root / f"{split}.parquet")
    return root


@pytest.fixture
def assets(tiny_timm, tiny_bert, cifar_like, sst2_like):
    """The tiny backbone and data set of each library, for the strategy tests."""
    return {"timm": (tiny_timm, cifar_like), "transformers": (tiny_bert, sst2_like)}
