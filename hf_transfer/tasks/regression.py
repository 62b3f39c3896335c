"""A number per row (`regression`): a numeric label column whose values are not all whole numbers (or
`--task regression`). One output, trained on the standardised target (MSE, or Huber with train.regression_loss),
the standardisation folded into the saved model so that it predicts in the target's own units; MAE, RMSE, R²,
Spearman and Pearson; split-conformal prediction intervals from the validation residuals (Vovk et al. 2005; Lei et
al. 2018, https://arxiv.org/abs/1604.04173): with n validation rows, the half-width for coverage 1 - a is the
ceil((n + 1)(1 - a))-th smallest absolute residual, so that a new row's interval holds its target with probability
at least 1 - a when the rows are exchangeable.
"""

from __future__ import annotations

import math

import datasets
import numpy as np

from ..errors import ConfigError, UserError
from .task import Task, register_task

COVERAGE = 0.9  # predict's default interval


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@register_task("regression")
class Regression(Task):
    metric_for_best = "neg_mae"
    best_metrics = ("neg_mae", "neg_rmse", "r2", "spearman", "pearson", "loss")
    headline = (("mae", "MAE", "MAE"), ("r2", "R²", "R2"))
    table = (("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²"), ("spearman", "Spearman"), ("pearson", "Pearson"),
             ("interval_coverage", "coverage of the 90 % interval"))
    figures = ("scatter",)
    card_metrics = (("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²"), ("spearman", "Spearman"))
    noun = "regression model"
    names_title = "Target"

    def summary(self, labels: list, names: list[str]) -> str:
        y = np.asarray([v for v in labels if v is not None], dtype=np.float64)
        return f"a number (mean {y.mean():.4g}, std {y.std():.4g}, from {y.min():.4g} to {y.max():.4g})"

    def purpose(self, things: str, names: list[str]) -> str:
        return f"predicts {names[0]} for {things}, in its own units, with a split-conformal interval"
    problem_type = "regression"

    @classmethod
    def from_saved(cls, state: dict, path) -> Task:
        residuals = state.get("residuals")
        if residuals is not None and not (isinstance(residuals, list) and all(_number(r) and r >= 0 for r in residuals)):
            raise UserError(f"model: {path}: residuals must be a list of numbers >= 0; the folder was changed")
        return cls(state)

    @classmethod
    def claims(cls, values: list, feature, data_cfg) -> str | None:
        values = [v for v in values if v is not None]
        numbers = [v for v in values if _number(v)]
        if numbers and len(numbers) == len(values) and any(not float(v).is_integer() for v in numbers if math.isfinite(v)):
            return "the label column holds numbers that are not whole"
        return None

    def prepare(self, dd, data_cfg, column: str):
        for split, ds in dd.items():
            values = ds["label"]
            text = next((v for v in values if v is not None and not _number(v)), None)
            if text is not None:
                raise ConfigError(f"data.label_column: a regression target must be a number; {split} has {text!r}")
            bad = [i for i, v in enumerate(values) if v is None or not math.isfinite(v)]
            if bad:
                raise ConfigError(f"data.label_column: {len(bad)} {split} rows have a target of NaN or inf, or none (rows "
                                  f"{', '.join(map(str, bad[:5]))}, counted from 0; an empty csv cell reads as NaN); "
                                  "drop or fill them")
        return dd.cast_column("label", datasets.Value("float32")), [column]

    def check_train(self, train, names: list[str]) -> list[str]:
        y = np.asarray(train["label"], dtype=np.float64)
        if len(y) > 1 and y.std() == 0:
            raise ConfigError(f"data.label_column: every training target is {y[0]:g}; there is nothing to learn")
        return []

    # -- training --------------------------------------------------------------------------------
    def fit(self, labels, names: list[str], cfg, device=None) -> None:
        if cfg.train.label_smoothing:
            raise ConfigError("train.label_smoothing: smooths classes; task regression has none (set 0)")
        y = np.asarray(labels, dtype=np.float64)
        self.fitted = {"mean": float(y.mean()), "std": float(y.std()) or 1.0, "loss": cfg.train.regression_loss}

    def loss(self, outputs, labels):
        import torch.nn.functional as F

        z = (labels.float() - self.fitted["mean"]) / self.fitted["std"]
        out = outputs.float().view(-1)
        return F.huber_loss(out, z) if self.fitted["loss"] == "huber" else F.mse_loss(out, z)

    def head_targets(self, labels: np.ndarray) -> np.ndarray:
        return (np.asarray(labels, dtype=np.float64) - self.fitted["mean"]) / self.fitted["std"]

    def distill_loss(self, student, teacher, temperature: float):
        """The squared distance of the student's output to the teacher's prediction, on the standardised scale the
        student trains on (the temperature has no role here)."""
        import torch.nn.functional as F

        target = (teacher.float().view(-1) - self.fitted["mean"]) / self.fitted["std"]
        return F.mse_loss(student.float().view(-1), target)

    def units(self, outputs):
        if not self.fitted:
            return outputs
        return outputs * self.fitted["std"] + self.fitted["mean"]

    # -- scoring ---------------------------------------------------------------------------------
    def scores(self, outputs: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
        from scipy.stats import pearsonr, spearmanr

        pred = np.asarray(outputs, dtype=np.float64).reshape(-1)
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        if len(y) == 0:
            return {"num_samples": 0}
        err = pred - y
        varies = len(y) > 1 and y.std() > 0 and pred.std() > 0
        mae, rmse = float(np.abs(err).mean()), float(np.sqrt((err ** 2).mean()))
        out = {"num_samples": int(len(y)), "mae": mae, "rmse": rmse, "neg_mae": -mae, "neg_rmse": -rmse,
               "r2": float(1 - (err ** 2).sum() / ((y - y.mean()) ** 2).sum()) if y.std() > 0 else float("nan"),
               "spearman": float(spearmanr(pred, y).statistic) if varies else float("nan"),
               "pearson": float(pearsonr(pred, y).statistic) if varies else float("nan"),
               "loss": float((err ** 2).mean())}
        half = self.half_width(COVERAGE)
        if half is not None:
            out["interval_coverage"] = float((np.abs(err) <= half).mean())
            out["interval"] = {"coverage_asked": COVERAGE, "coverage": out["interval_coverage"], "half_width": half}
        return out

    linear_grid = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)  # ridge's alpha, each tried on validation (1 without one)
    linear_name = "Ridge(alpha={strength:g})"
    linear_strength = "alpha"

    def fit_linear(self, x, y, strength, class_weights, names, seed):
        """Ridge regression (its alpha chosen on validation by the caller), kept as a linear model whose
        decision_function is its prediction."""
        from sklearn.linear_model import LogisticRegression, Ridge

        ridge = Ridge(alpha=strength).fit(x, np.asarray(y, dtype=np.float64))
        model = LogisticRegression()
        model.coef_, model.intercept_ = ridge.coef_.reshape(1, -1), np.array([float(ridge.intercept_)])
        model.classes_ = np.arange(1)
        return model

    # -- trust and saving ------------------------------------------------------------------------
    def half_width(self, coverage: float) -> float | None:
        """The split-conformal half-width for `coverage` from the saved validation residuals (None: none saved;
        inf: too few residuals for this coverage)."""
        residuals = self.saved.get("residuals")
        if not residuals:
            return None
        if not 0 < coverage < 1:
            raise UserError(f"--coverage: {coverage} must be between 0 and 1")
        n = len(residuals)
        k = math.ceil((n + 1) * coverage)
        return float(sorted(residuals)[k - 1]) if k <= n else math.inf

    def calibrate(self, cfg, outputs, final, features=None, in_domain=None, keep=None):
        if "validation" not in outputs:
            return final, {"method": "none", "note": "no validation split: no conformal interval"}
        z, y = outputs["validation"]
        self.saved["residuals"] = np.round(np.abs(np.asarray(z).reshape(-1) - np.asarray(y)), 6).tolist()
        final = {name: {**final[name], **self.scores(*outputs[name], [])} for name in final if name in outputs}
        entry = {"method": "split_conformal", "fitted_on": "validation", "residuals": len(self.saved["residuals"]),
                 "coverage_asked": COVERAGE, "half_width": self.half_width(COVERAGE),
                 "coverage": {name: m["interval"]["coverage"] for name, m in final.items() if "interval" in m}}
        return final, entry

    def trust_lines(self, calibration: dict) -> list[str] | None:
        if calibration.get("method") != "split_conformal":
            return ["", "## Prediction intervals", "", f"None ({calibration.get('note', 'not fitted')})."]
        return ["", "## Prediction intervals", "",
                f"Split-conformal: the {calibration['coverage_asked']:.0%} interval is the prediction ± "
                f"{calibration['half_width']:.4g}, from the absolute residuals of {calibration['residuals']} validation "
                "rows (saved with the model; `predict --coverage` asks for another coverage). Its coverage on each "
                "set (the share of true values inside):", "", "| eval set | coverage asked | coverage |",
                "|---|---:|---:|",
                *(f"| {name} | {calibration['coverage_asked']:.2f} | {c:.4f} |" for name, c in
                  calibration["coverage"].items())]

    def output_affine(self, entry: dict):
        return {"scale": self.fitted.get("std", 1.0), "shift": self.fitted.get("mean", 0.0)}

    def saved_state(self, entry: dict) -> dict | None:
        return {"task": self.name, "mean": self.fitted.get("mean"), "std": self.fitted.get("std"),
                "residuals": self.saved.get("residuals")}

    # -- prediction ------------------------------------------------------------------------------
    def predictions(self, outputs: np.ndarray, names: list[str], coverage: float = COVERAGE) -> list[dict]:
        half = self.half_width(coverage)
        values = np.asarray(outputs, dtype=np.float64).reshape(-1)
        return [{"value": float(v), **({"interval": [float(v - half), float(v + half)], "coverage": coverage}
                                        if half is not None else {})} for v in values]

    def columns(self, outputs: np.ndarray, names: list[str], top_k: int = 3, coverage: float = COVERAGE,
                **options) -> dict:
        values = np.asarray(outputs, dtype=np.float64).reshape(-1)
        cols = {names[0]: values}
        half = self.half_width(coverage)
        if half is not None:
            cols.update({"lower": values - half, "upper": values + half, "coverage": coverage})
        return cols
