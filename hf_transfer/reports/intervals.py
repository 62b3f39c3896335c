"""The spread and the intervals every comparison over seeds prints: mean ± standard deviation, and the 95 %
Student's t interval of paired differences, written [lo, hi]."""

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


def bracket(s: dict | None, pct: bool = False) -> str:
    """'[lo, hi]' of an interval (signed; in % with pct); '' without one."""
    if not s or s["low"] is None:
        return ""
    k, unit = (100, "%") if pct else (1, "")
    return f"[{k * s['low']:+.{0 if pct else 3}f}{unit}, {k * s['high']:+.{0 if pct else 3}f}{unit}]"
