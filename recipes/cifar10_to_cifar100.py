"""Train ResNet-18 on CIFAR-10, transfer it to CIFAR-100 (new 100-class head), against the same
network trained from scratch on CIFAR-100 with the same budget; all three runs in one report.

--offline: MNIST (source) -> UCI digits (target), same code path, a CPU budget.
"""

from hf_transfer.config import Config, from_dict


def recipe(output_dir: str = "runs/cifar10_to_cifar100", offline: bool = False) -> list[Config]:
    arch = {"name": "timm:resnet18", "pretrained": False}
    train = {"epochs": 30, "batch_size": 128, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
             "scheduler": "cosine", "warmup_ratio": 0.02, "mixed_precision": "bf16"}
    source_data = {"dataset": "uoft-cs/cifar10", "eval_splits": ["test"], "image_size": 32,
                   "augment": {"scale": [0.6, 1.0]}}
    target_data = {**source_data, "dataset": "uoft-cs/cifar100"}  # fine_label is found from the schema
    if offline:
        train.update(epochs=2, batch_size=64, lr=0.05, mixed_precision="no")
        source_data = {"dataset": "pypi:mnist", "eval_splits": ["test"], "image_size": 32, "max_train_samples": 1500,
                       "augment": {"hflip": 0.0, "scale": [0.85, 1.0]}}
        target_data = {**source_data, "dataset": "pypi:uci_digits", "max_train_samples": 600}
    source = from_dict({"name": "source", "output_dir": f"{output_dir}/source", "model": arch,
                        "data": source_data, "train": train})
    transfer = from_dict({"name": "transfer", "output_dir": f"{output_dir}/transfer",
                          "model": {"name": f"{output_dir}/source/model"},  # its weights, a new head
                          "data": target_data, "train": train})
    scratch = from_dict({"name": "scratch", "output_dir": f"{output_dir}/scratch", "model": arch,
                         "data": target_data, "train": train})
    return [source, transfer, scratch]


if __name__ == "__main__":
    from hf_transfer.launch import recipe_main

    recipe_main(recipe)
