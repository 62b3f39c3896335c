"""What every report figure does: matplotlib without a display, and one way to write a figure."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path, dpi: int = 110) -> Path:
    """Lay out, write and close `fig`; returns `path`."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def regression_plot(run_dir: Path, name: str) -> Path | None:
    """regression.png of eval set `name` (from predictions.npz): predicted against true values, and a histogram of
    the residuals; None when the run kept no predictions for that set."""
    import numpy as np

    from .. import run_folder

    found = run_folder.load_predictions(run_dir, name)
    if found is None:
        return None
    predicted, true = (np.asarray(a, dtype=np.float64) for a in found)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
    axes[0].scatter(true, predicted, s=6, alpha=0.5)
    axes[0].plot([low, high], [low, high], color="0.5", lw=1, ls="--")
    axes[0].set(title=f"predicted against true ({name})", xlabel="true", ylabel="predicted")
    axes[1].hist(predicted - true, bins=30, color="tab:blue", alpha=0.8)
    axes[1].set(title="residuals (predicted - true)", xlabel="residual", ylabel="rows")
    for ax in axes:
        ax.grid(alpha=0.3)
    return save(fig, Path(run_dir) / "regression.png")
