"""`hf-transfer rank`: score candidate backbones on the target data, rank them, and with `--validate`
check the ranking against real fine-tuning.

For each candidate (every `--models` entry at its head's input, and at each `--layers` depth),
rank.score() gives LogME, LEEP, NCE, H-score, parameters, FLOPs and samples/s. The table is ranked by
LogME (the estimator of the four that needs no source head and whose scale does not grow with the
width). `--validate` fine-tunes every candidate at its head's input with one budget (full
fine-tuning, `--epochs`, `--lr`, `--batch-size`) on the same train split (less the validation set
carved from it to pick the epoch) and tests it on the test split;
Kendall's tau and Spearman's rho between each score and the fine-tuned test accuracy then say how
far the cheap scores can be trusted on this data, with a score-vs-accuracy plot. Layer candidates
are scored only (a truncated network has no fine-tuning recipe here). Output: OUT/rank.md,
rank.html (the report style of `hf-transfer report`), rank.json, rank_validation.png.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .. import rank
from ..errors import UserError
from ..runs import run_folder

NAMES = {"logme": "LogME", "leep": "LEEP", "nce": "NCE", "h_score": "H-score"}


def label(row: dict) -> str:
    return row["model"] if row["layer"] is None else f"{row['model']} @ layer {row['layer']}"


def finetune_config(row: dict, out: Path, options: dict, index: int = 1):
    """The validation run of a candidate: full fine-tuning with the same budget for every candidate."""
    from ..config import apply_overrides, from_dict

    name = row["model"]
    short = Path(name.removeprefix(rank.RANDOM_PREFIX)).name.replace(":", "_")
    slug = f"{index:02d}_" + (f"random_{short}" if name.startswith(rank.RANDOM_PREFIX) else short)
    data = {"dataset": row["dataset"], "max_train_samples": options["max_samples"], "eval_splits": ["test"],
            "max_eval_samples": options["max_eval_samples"], "max_length": options["max_length"]}
    if options["image_size"]:
        data["image_size"] = options["image_size"]
    cfg = from_dict({
        "name": slug, "output_dir": str(out / "finetune" / slug),
        "model": {"name": name.removeprefix(rank.RANDOM_PREFIX), "pretrained": not name.startswith(rank.RANDOM_PREFIX)},
        "data": data, "train": {"epochs": options["epochs"], "lr": options["lr"], "batch_size": options["batch_size"],
                                "seed": options["seed"]}})
    return apply_overrides(cfg, options.get("overrides") or [])


def correlations(rows: list[dict]) -> dict:
    """{estimator: {tau, rho, n}} between each score and the fine-tuned test accuracy (None below 3 candidates)."""
    from scipy import stats

    result = {}
    for key in rank.ESTIMATORS:
        pairs = [(r[key], r["finetuned_accuracy"]) for r in rows
                 if r.get(key) is not None and r.get("finetuned_accuracy") is not None]
        if len(pairs) < 3:
            result[key] = {"tau": None, "rho": None, "n": len(pairs)}
            continue
        x, y = zip(*pairs)
        result[key] = {"tau": float(stats.kendalltau(x, y).statistic), "rho": float(stats.spearmanr(x, y).statistic),
                       "n": len(pairs)}
    return result


def plot(rows: list[dict], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    used = [k for k in rank.ESTIMATORS if any(r.get(k) is not None and "finetuned_accuracy" in r for r in rows)]
    if not used:
        return None
    fig, axes = plt.subplots(1, len(used), figsize=(4 * len(used), 3.6), squeeze=False)
    for ax, key in zip(axes[0], used):
        points = [(r[key], r["finetuned_accuracy"], label(r)) for r in rows
                  if r.get(key) is not None and r.get("finetuned_accuracy") is not None]
        ax.scatter([p[0] for p in points], [p[1] for p in points])
        for x, y, text in points:
            ax.annotate(text.split("/")[-1][:28], (x, y), fontsize=7)
        ax.set_xlabel(NAMES[key])
        ax.set_ylabel("fine-tuned test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _num(x, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(x, fmt)


def recommendation(rows: list[dict]) -> str:
    best = rows[0]
    text = f"Start from **{label(best)}**: the highest LogME ({best['logme']:.3f})."
    agree, disagree = [], []
    for key in ("leep", "nce", "h_score"):
        scored = [r for r in rows if r.get(key) is not None]
        if best.get(key) is None or not scored:
            continue
        top = max(scored, key=lambda r: r[key])
        (agree if top is best else disagree).append((NAMES[key], top))
    if agree:
        text += f" {', '.join(n for n, _ in agree)} {'agrees' if len(agree) == 1 else 'agree'}."
    if disagree:
        text += " " + "; ".join(f"{n} prefers {label(top)}" for n, top in disagree) + \
            ": fine-tune the top two or three (`--validate` measures how far to trust each score on this data)."
    cheaper = [r for r in rows[1:] if r["flops"] < best["flops"] / 2 and r["logme"] >= best["logme"] - 0.05]
    if cheaper:
        text += f" {label(cheaper[0])} scores within 0.05 at under half the FLOPs."
    return text


def markdown(result: dict) -> list[str]:
    rows, validated = result["candidates"], result.get("validation") is not None
    head = "| rank | candidate | LogME | LEEP | NCE | H-score | backbone params (M) | MFLOPs / sample | samples/s |"
    lines = [f"# Which backbone? {result['dataset']} ({rows[0]['samples']} labelled samples, {rows[0]['classes']} classes)",
             "", recommendation(rows), "",
             head + (" fine-tuned test acc |" if validated else ""),
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if validated else "")]
    for i, r in enumerate(rows, 1):
        cells = [str(i), label(r), _num(r["logme"]), _num(r["leep"]), _num(r["nce"]), _num(r["h_score"]),
                 f"{r['parameters'] / 1e6:.2f}", f"{r['flops'] / 1e6:.0f}", f"{r['samples_per_second']:.0f}"]
        if validated:
            cells.append(_num(r.get("finetuned_accuracy")))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"- not scored: {run_folder.md_text(x['model'])} ({run_folder.md_text(x['reason'])})" for x in result.get("skipped") or []]
    lines += ["", f"Scoring took {result['rank_seconds']:.0f} s for {len(rows)} candidates. LEEP and NCE need the "
              "checkpoint's own classifier (n/a without one, and for layer candidates); FLOPs are the whole forward pass. "
              "Higher is better for every score."]
    if validated:
        v = result["validation"]
        lines += ["", "## Does the ranking predict fine-tuning?", "",
                  f"Every candidate fine-tuned with one budget ({v['budget']}); {v['seconds']:.0f} s in all, against "
                  f"{result['rank_seconds']:.0f} s for the scores.", "",
                  "| estimator | Kendall's tau | Spearman's rho | candidates |", "|---|---:|---:|---:|"]
        lines += [f"| {NAMES[k]} | {_num(c['tau'], '+.2f')} | {_num(c['rho'], '+.2f')} | {c['n']} |"
                  for k, c in v["correlations"].items()]
        lines += ["", "![score vs fine-tuned accuracy](rank_validation.png)"]
    return lines + [""]


def run_rank(models: str, dataset: str, out: str, layers: str | None = None, validate: bool = False,
             **options) -> dict:
    """Score, rank and (with `validate`) fine-tune every candidate; writes OUT/rank.{md,html,json}."""
    from .run_report import write_html

    out_dir = Path(out)
    if out_dir.is_dir() and (out_dir / "rank.json").exists() and not options.get("overwrite"):
        raise UserError(f"-o: {str(out_dir)!r} already holds a ranking; pass --overwrite or choose another folder")
    splits = rank_splits(dataset, options)
    candidates, skipped = usable_candidates(rank.parse_candidates(models, layers), splits.task, dataset)
    tick = time.perf_counter()
    rows = []
    for i, (name, layer) in enumerate(candidates, 1):
        print(f"[{i}/{len(candidates)}] scoring {name}" + ("" if layer is None else f" @ layer {layer}"), file=sys.stderr)
        rows.append(rank.score(name, dataset, options["max_samples"], layer, options["image_size"],
                               options["max_length"], options["batch_size"], options["seed"], splits=splits))
    rows.sort(key=lambda r: -r["logme"])
    result = {"dataset": dataset, "candidates": rows, "rank_seconds": time.perf_counter() - tick, "validation": None,
              "skipped": skipped}
    out_dir.mkdir(parents=True, exist_ok=True)
    if validate:
        result["validation"] = validate_rows(rows, out_dir, options)
    (out_dir / "rank.json").write_text(run_folder.strict_json(result))
    md = out_dir / "rank.md"
    md.write_text("\n".join(markdown(result)))
    write_html(md, out_dir / "rank.html")
    return result


def rank_splits(dataset: str, options: dict):
    """The labelled samples every candidate is scored on, loaded once."""
    from accelerate.utils import set_seed

    from ..data.sources import build_splits

    set_seed(options["seed"])
    config = rank.data_config(dataset, options["max_samples"], options["image_size"], options["max_length"])
    splits = build_splits(config, "auto", options["seed"])
    rank.check_samples(splits, dataset)
    return splits


def usable_candidates(candidates: list, task: str, dataset: str) -> tuple[list, list]:
    """(candidates to score, [{model, reason}] skipped): before any is loaded, a model of the other modality (a
    timm model on text) is set aside with a warning, so that it neither costs the time of scoring the others
    nor loses their scores; a bad name or path is refused here, at once (one line)."""
    from ..models import modality

    kinds = {name: modality(name) for name in dict.fromkeys(name for name, _ in candidates)}
    wrong = {name: f"a{'n' if kind == 'image' else ''} {kind} model, and {dataset} is {task} data"
             for name, kind in kinds.items() if kind is not None and kind != task}
    for name, reason in wrong.items():
        print(f"hf-transfer: warning: not scoring {name}: {reason}", file=sys.stderr)
    if len(wrong) == len(kinds):
        raise UserError(f"--models: no candidate reads {task} data ({'; '.join(f'{n}: {r}' for n, r in wrong.items())})")
    return [c for c in candidates if c[0] not in wrong], [{"model": n, "reason": r} for n, r in wrong.items()]


def validate_rows(rows: list[dict], out_dir: Path, options: dict) -> dict:
    """Fine-tune every head-input candidate with one budget; record its test accuracy in its row."""
    from ..runs.launch import run_configs

    tick = time.perf_counter()
    whole = [r for r in rows if r["layer"] is None]
    configs = [finetune_config(r, out_dir, options, i) for i, r in enumerate(whole, 1)]
    for row, metrics in zip(whole, run_configs(configs, None, overwrite=options.get("overwrite", False))):
        row["finetuned_accuracy"] = metrics["final"]["test"]["accuracy"]
    plot(rows, out_dir / "rank_validation.png")
    budget = f"full fine-tuning, {options['epochs']} epochs, lr {options['lr']:g}, batch {options['batch_size']}"
    return {"budget": budget, "seconds": time.perf_counter() - tick, "correlations": correlations(rows)}
