"""The figures of the domain-adaptation report: accuracy per epoch, per-class F1 on the target, target confusion
matrices, and a 2-D t-SNE of source vs target test features (source_only's is the picture before adaptation)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import run_folder
from ..strategies.baselines import FLOOR
from . import figures


def _first_runs(table: dict, runs: dict) -> list[tuple[str, dict, Path]]:
    """(method, metrics, run dir) of each method's first seed."""
    return [(r["method"], runs[r["runs"][0]][0], runs[r["runs"][0]][2]) for r in table["rows"]]


def plot_curves(table: dict, runs: dict, path: Path) -> None:
    """Source and target test accuracy per epoch, every run (seeds as separate lines)."""
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    colors = plt.get_cmap("tab10")
    for i, r in enumerate(table["rows"]):
        for j, run in enumerate(r["runs"]):
            m = runs[run][0]
            d = m["domains"]
            epochs = [h["epoch"] for h in m["history"]]
            label = r["method"] if j == 0 else None
            axes[0].plot(epochs, [h["train_loss"] for h in m["history"]], color=colors(i), marker="o", label=label)
            axes[1].plot(epochs, [h["eval"][d["source"]]["accuracy"] for h in m["history"]], color=colors(i),
                         marker="o", label=label)
            axes[2].plot(epochs, [h["eval"][d["target"]]["accuracy"] for h in m["history"]], color=colors(i),
                         marker="o", label=label)
    for ax, title in zip(axes, ("train loss", "source test accuracy", "target test accuracy")):
        ax.set(title=title, xlabel="epoch")
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    figures.save(fig, path, dpi=100)


def plot_per_class(table: dict, path: Path) -> None:
    """Target per-class F1 (mean over seeds), one bar per method."""
    plt = figures.pyplot()
    names, rows = table["label_names"], table["rows"]
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.9 * len(names) * max(1, len(rows)) / 3)), 3.8))
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        values = [np.mean(r["per_class_target"][n]) for n in names]
        ax.bar(np.arange(len(names)) + i * width, values, width, label=r["method"])
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set(title="per-class F1 on the target test set", ylabel="F1", ylim=(0, 1))
    ax.legend(fontsize=8, ncol=min(4, len(rows)))
    ax.grid(alpha=0.3, axis="y")
    figures.save(fig, path, dpi=100)


def plot_confusions(table: dict, firsts: list, path: Path) -> None:
    """Row-normalised target confusion matrices (first seed of each method)."""
    plt = figures.pyplot()
    n = len(firsts)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    names = table["label_names"]
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (method, m, _) in zip(axes.flat, firsts):
        cm = np.asarray(m["final"][m["domains"]["target"]]["confusion_matrix"], dtype=float)
        cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        ax.set(title=method, xlabel="predicted", ylabel="true")
        ticks = range(len(names))
        ax.set_xticks(ticks, [x[:6] for x in names], fontsize=7, rotation=90)
        ax.set_yticks(ticks, [x[:6] for x in names], fontsize=7)
    fig.suptitle("target confusion matrices (rows: true class, normalised)")
    figures.save(fig, path, dpi=100)


def embed_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE (after PCA to 50 dimensions) of standardised features."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    x = PCA(n_components=min(50, *x.shape), random_state=seed).fit_transform(x)
    return TSNE(n_components=2, init="pca", perplexity=min(30, (len(x) - 1) / 3), max_iter=500,
                random_state=seed).fit_transform(x)


def plot_embeddings(firsts: list, path: Path, per_domain: int = 200) -> bool:
    """t-SNE of source (blue) vs target (orange) test features of each method's first seed."""
    found = [(method, np.load(d / run_folder.FEATURES)) for method, _, d in firsts if (d / run_folder.FEATURES).is_file()]
    if not found:
        return False
    plt = figures.pyplot()
    cols = min(4, len(found))
    rows = math.ceil(len(found) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.flat[len(found):]:
        ax.axis("off")
    for ax, (method, f) in zip(axes.flat, found):
        xs, xt = f["source_features"][:per_domain], f["target_features"][:per_domain]
        z = embed_2d(np.concatenate([xs, xt]))
        ax.scatter(*z[: len(xs)].T, s=4, alpha=0.6, label="source")
        ax.scatter(*z[len(xs):].T, s=4, alpha=0.6, label="target")
        ax.set(title=method + (" (before adaptation)" if method == FLOOR else ""), xticks=[], yticks=[])
    axes.flat[0].legend(fontsize=8, markerscale=3)
    fig.suptitle("t-SNE of source vs target test features")
    figures.save(fig, path, dpi=100)
    return True
