"""The spread and the intervals every comparison over seeds prints (mean ± standard deviation, the 95 % Student's t
interval of paired differences written [lo, hi], a bootstrap over test rows), and the number formats of every
report's tables (`num`, `mean_std`, `signed`, `bracket`)."""

from __future__ import annotations

import math

import numpy as np


def spread(values: list[float]) -> dict:
    """Mean, standard deviation (ddof 1) and count of the values that are numbers."""
    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}


def t_interval(values: list[float]) -> dict:
    """Mean and 95 % confidence interval (Student's t) of paired differences; no interval from one value."""
    n = len(values)
    mean = float(np.mean(values)) if n else None
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": n}
    from scipy import stats

    half = float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def mean_std(s: dict, digits: int = 3) -> str:
    """'mean ± std' of a `spread` (3 decimals; the seed tables of adaptation use 4); the mean alone from one value,
    empty without any."""
    if s["mean"] is None:
        return ""
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}" if s["n"] > 1 else f"{s['mean']:.{digits}f}"


def bracket(s: dict | None, pct: bool = False) -> str:
    """'[lo, hi]' of an interval (signed; in % with pct); '' without one."""
    if not s or s["low"] is None:
        return ""
    k, unit = (100, "%") if pct else (1, "")
    return f"[{k * s['low']:+.{0 if pct else 3}f}{unit}, {k * s['high']:+.{0 if pct else 3}f}{unit}]"


def row_bootstrap(pairs: list[tuple], draws: int = 2000, seed: int = 0) -> dict | None:
    """The accuracy difference of two models over test rows, seeds fixed: `pairs` holds per seed the two boolean
    arrays (row correct under A, under B) over the same rows. Each draw resamples every seed's rows (with
    replacement) and averages the per-seed differences; 95 % percentile interval. What the test set's own
    size leaves uncertain, beside the spread over seeds."""
    pairs = [(np.asarray(a, float), np.asarray(b, float)) for a, b in pairs if len(a) and len(a) == len(b)]
    if not pairs:
        return None
    rng = np.random.default_rng(seed)
    total = np.zeros(draws)
    for a, b in pairs:
        pick = rng.integers(0, len(a), (draws, len(a)))
        total += (a - b)[pick].mean(1)
    total /= len(pairs)
    mean = float(np.mean([(a - b).mean() for a, b in pairs]))
    low, high = np.percentile(total, [2.5, 97.5])
    return {"mean": mean, "low": float(low), "high": float(high), "n": len(pairs), "rows": int(len(pairs[0][0])),
            "draws": draws}


def num(x, fmt: str = ".4f", missing: str = "") -> str:
    """A number as a table cell (`fmt`, 4 decimals by default); `missing` for None."""
    return missing if x is None else format(x, fmt)


def signed(x: float | None, pct: bool = False) -> str:
    """+0.1234, or +12% with `pct`; empty for None."""
    if x is None:
        return ""
    return f"{100 * x:+.0f}%" if pct else f"{x:+.4f}"
