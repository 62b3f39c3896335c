"""Backbones by library: one `TransferModel` over timm, transformers, or any library registered with an
adapter.

    names.py            how model.name resolves (pypi:, random:, timm:, hf:, a folder, a Hub id), and the
                        registry of libraries
    adapter.py          what a library adapter provides; timm_adapter.py, transformers_adapter.py
    transfer_model.py   TransferModel: head, features, layer groups, saving, the same for every library
    loading.py          load_backbone: a name and labels -> a TransferModel (a saved head rebuilt)
    heads.py, pooling.py, hf_form.py, modeling_hf_transfer.py
                        new heads, sentence-embedding pooling, and the hf_transfer form of text models
"""

from .loading import load_backbone, load_like
from .names import modality, register_library, resolve, saved_label_names
from .transfer_model import HEAD_FILE, TransferModel, count_parameters

__all__ = ["HEAD_FILE", "TransferModel", "count_parameters", "load_backbone", "load_like", "modality",
           "register_library", "resolve", "saved_label_names"]
