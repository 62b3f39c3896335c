"""Sentence-embedding pooling: pool a text model's token states the way its checkpoint was trained.

A sentence-transformers checkpoint (all-MiniLM-L6-v2, all-mpnet-base-v2, e5, bge...) was trained
to be read through its ``modules.json``: the transformer, then ``1_Pooling`` (mean of the token
states, usually) and often ``2_Normalize`` (unit length). Its [CLS] pooler (dense + tanh on the
first token) was never trained for anything, so a classifier put on it starts from features
that carry little of what the model learned, and on small data it can collapse to the majority
class. `Pooling` reads that layout and pools the same way, so the head, the features that
domain adaptation and the report use, and `sentence_transformers.SentenceTransformer.encode`
agree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..errors import UserError

MODES = ("cls", "mean", "max", "mean_sqrt_len")
_ST_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean", "pooling_mode_max_tokens": "max",
            "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len"}  # sentence-transformers' Pooling config keys


@dataclass(frozen=True)
class Pooling:
    mode: str = "mean"  # one of MODES
    normalize: bool = False  # unit length after pooling (sentence-transformers' Normalize module)

    def __call__(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """(batch, tokens, dim) token states and their (batch, tokens) mask -> (batch, dim)."""
        from .modeling_hf_transfer import pool

        return pool(hidden, attention_mask, self.mode, self.normalize)

    def to_dict(self) -> dict:
        return asdict(self)


def _from_modules(modules: list[dict], load_config, where: str) -> Pooling | None:
    """The pooling that a modules.json list describes; `load_config(path)` reads its Pooling config."""
    pool = next((m for m in modules if m.get("type", "").endswith(".Pooling")), None)
    if pool is None:
        return None
    path = f"{pool.get('path', '')}/config.json".lstrip("/")
    try:
        config = load_config(path)
    except (OSError, ValueError) as e:
        raise UserError(f"model.name: {where} lists a Pooling module but its {path} cannot be read ({e})") from e
    modes = [mode for key, mode in _ST_KEYS.items() if config.get(key)]
    if len(modes) != 1:
        asked = sorted(k for k, v in config.items() if k.startswith("pooling_mode") and v)
        raise UserError(f"model.name: {where}/{path} asks for {', '.join(asked) or 'no pooling'}; supported: "
                        f"exactly one of {', '.join(MODES)} (set model.pooling to choose one)")
    return Pooling(modes[0], normalize=any(m.get("type", "").endswith(".Normalize") for m in modules))


def read(folder: str | Path) -> Pooling | None:
    """The pooling of a sentence-transformers folder (modules.json + its Pooling config); None if it is not one."""
    folder = Path(folder)
    if not (folder / "modules.json").is_file():
        return None
    modules = json.loads((folder / "modules.json").read_text())
    return _from_modules(modules, lambda path: json.loads((folder / path).read_text()), str(folder))


def from_hub(repo_id: str, revision: str | None = None) -> Pooling | None:
    """`read` for a Hub repository (downloads its modules.json and Pooling config, when it has them)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    def fetch(path: str) -> str:
        return Path(hf_hub_download(repo_id, path, revision=revision)).read_text()

    try:
        modules = json.loads(fetch("modules.json"))
    except EntryNotFoundError:
        return None
    return _from_modules(modules, lambda path: json.loads(fetch(path)), repo_id)


def write(folder: str | Path, pooling: Pooling, dim: int | None = None) -> None:
    """Write the sentence-transformers layout (modules.json, the Pooling config) into a model folder: a
    sentence-embedding checkpoint as sentence-transformers saves one. (A fine-tuned classifier is saved in the
    hf_transfer form instead, its pooling in config.json: models/hf_form.py.)"""
    folder = Path(folder)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if pooling.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(parents=True, exist_ok=True)
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    config = {key: pooling.mode == mode for key, mode in _ST_KEYS.items()}
    if dim is not None:
        config = {"word_embedding_dimension": dim, **config}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
