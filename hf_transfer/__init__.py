"""hf-transfer: transfer learning from Hugging Face backbones, with the numbers that say whether it worked.

    import hf_transfer
    clf = hf_transfer.load("runs/my_run")       # any saved model: a run directory, its model/, a Hub id
    clf.predict(["a new text"])                 # [{"label": ..., "score": ..., "probabilities": {...}}]
"""


def load(path, **kwargs):
    """A saved classifier, ready to predict (`hf_transfer.predictor.load`)."""
    from .predictor import load as load_classifier

    return load_classifier(path, **kwargs)
