"""hf-transfer: transfer learning from Hugging Face backbones, with the numbers that say whether it worked.

    import hf_transfer
    clf = hf_transfer.load("runs/my_run")       # any saved model: a run directory, its model/, a Hub id
    clf.predict(["a new text"])                 # [{"label": ..., "score": ..., "probabilities": {...}}]

Where things live, from the ground up (tests/test_layout.py keeps every import running down): errors, metrics,
calibration, intervals, pixels (the ground); run_folder (a run's files), packaged (offline assets), exported/ (an
ONNX export run without PyTorch); models/ (backbones by library) and data/ (readers, columns, splits, loaders);
strategies/ (one file per method); config/ (schema, rules, engine); reports/; hub; runs/ (running a config);
autoconfig, predictor, launch; evaluation, ranking, onnx_export; cli/ (one module per command). A new
command is a module of cli/ listed in cli/main.COMMANDS; a new strategy one file of strategies/; a new run kind a
module of runs/ in pipeline.KINDS; a new report section a module of reports/ in run_report.SECTIONS; a new
library one adapter in models/.
"""


def load(path, **kwargs):
    """A saved classifier, ready to predict (`hf_transfer.predictor.load`)."""
    from .predictor import load as load_classifier

    return load_classifier(path, **kwargs)
