"""Adaptation without a gradient step: a trained source model adjusted with unlabelled target data.

Give them the source model (`model.name: <source_only run>/model`) and `data.target`;
`hf_transfer.posthoc_run` runs them (no training loop) into a run directory like any other run:

* `adabn` (Li et al. 2016, https://arxiv.org/abs/1603.04779): every BatchNorm layer's running mean
  and variance are estimated again on the unlabelled target train set (a cumulative average over
  one pass, eval transforms); no weight changes. It separates "BatchNorm saw the target" from
  "the features were aligned". Models without BatchNorm are refused (LayerNorm transformers have
  nothing to re-estimate, except in a `model.bottleneck`).
* `bbse`, black-box shift estimation (Lipton et al. 2018, https://arxiv.org/abs/1802.03916): for
  label shift (the class priors change, p(x|y) does not). With the source model's confusion matrix
  on the held-out source validation set, C[i, j] = P_s(predicted i, true j), and the distribution of
  its predictions on the unlabelled target, mu[i] = P_t(predicted i), the importance weights
  w = q_t(y) / p_s(y) solve C w = mu (least squares, clipped at 0), and q_t = w p_s. The model's
  posteriors are then re-weighted to the target priors, p_t(y|x) ~ q_t(y) / pi(y) p(y|x), where pi
  is the prior the model was trained to (the training label frequencies, times `train.class_weights`
  when the loss was weighted: balanced weights make it uniform); log(q_t / pi) is added to the
  classifier's bias, so the saved model is a plain classifier. metrics.json `label_shift` gives the estimated target priors beside the
  true ones of the target test set (read for the report only).
* `mlls`, maximum-likelihood label shift (Saerens et al. 2002, https://doi.org/10.1162/089976602753284446)
  with bias-corrected temperature scaling (BCTS; Alexandari et al. 2020, https://arxiv.org/abs/1901.06852):
  the classifier is first calibrated on the source validation set (a temperature T and a per-class
  bias b minimising the negative log-likelihood), then EM finds the target priors that maximise the
  likelihood of the unlabelled target under the calibrated posteriors: q <- mean_x p_q(y|x), with
  p_q(y|x) ~ q(y) / p_s(y) p_cal(y|x). It reads soft posteriors where bbse counts hard predictions,
  and never estimates a class away to exactly 0. T, b and log(q / p_s) are folded into the classifier.
  `target_priors` replaces the estimate by priors you know (the benchmark's control: the true ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..calibration import fit_scaling
from ..errors import UserError
from ..fields import option
from ..intervals import mean_std, spread
from .base import Method
from .registry import register, report_section


@dataclass
class MllsConfig:
    decision: Literal["accuracy", "macro_f1"] = option(
        "accuracy", "accuracy: predict the most probable class under the estimated target priors (Bayes for accuracy); "
                    "macro_f1: re-weight the classes to maximise the macro-F1 expected under those posteriors.")
    target_priors: list | None = option(
        None, "The target class priors when you know them (one number per class, in label order; normalised): "
              "used instead of the EM estimate; given the true ones, it says what a perfect estimate would be worth.")

    def rules(self) -> list[tuple[str, bool, str]]:
        p = self.target_priors
        return [("target_priors", p is None or (bool(p) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in p) and sum(p) > 0),
            "must be a list of numbers >= 0, one per class, with a positive sum")]


class PostHoc(Method):
    """Adjusts a trained source model with the unlabelled target (runs/posthoc_run.py), not trained by the loop."""

    run_kind = "posthoc"  # runs/posthoc_run.py runs it
    uses_target = True
    task_needs = ("single_class",)
    needs_validation = False  # True: reads the held-out source validation set
    keeps_temperature = True  # the source model's own run fitted it; False: fit one for the adjusted model

    def adjust(self, model, predict, trained_prior: np.ndarray) -> dict:
        """Change `model` in place; `predict(name, train_mode_for=None)` runs the model over a set
        ('validation', 'target_unlabelled') and returns (logits, labels or None); `trained_prior`: the
        class prior the source model was trained to. Returns what to record in metrics.json."""
        raise NotImplementedError


def batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@register("adabn")
class AdaBN(PostHoc):

    def adjust(self, model, predict, trained_prior) -> dict:
        norms = batch_norms(model)
        if not norms:
            raise UserError(f"strategy.name: adabn re-estimates BatchNorm statistics, and {model.source} has no "
                            "BatchNorm layer (give it a model.bottleneck, or use another method)")
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the whole pass
        try:
            predict("target_unlabelled", train_mode_for=norms)
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
        return {"adabn": {"batch_norm_layers": len(norms)}}


def estimate_label_shift(val_pred: np.ndarray, val_true: np.ndarray, target_pred: np.ndarray,
                         num_classes: int) -> dict:
    """BBSE: importance weights w = q_t / p_s from hard predictions (C w = mu, least squares, w >= 0),
    with the source priors p_s (of the validation labels) and the estimated target priors q_t = w p_s."""
    confusion = np.zeros((num_classes, num_classes))
    np.add.at(confusion, (val_pred, val_true), 1.0)
    confusion /= max(len(val_true), 1)
    mu = np.bincount(target_pred, minlength=num_classes) / max(len(target_pred), 1)
    return solve_label_shift(confusion, mu)


def solve_label_shift(confusion: np.ndarray, mu: np.ndarray) -> dict:
    """BBSE's solve: w = q_t / p_s from C w = mu (least squares, w >= 0), C[i, j] = P_s(predicted i, true j)
    and mu[i] = P_t(predicted i), from hard or soft predictions; p_s = C's column sums, q_t = w p_s."""
    w = np.clip(np.linalg.lstsq(confusion, mu, rcond=None)[0], 0.0, None)
    source = confusion.sum(0)
    target = w * source
    if target.sum() <= 0:  # nothing estimable: no shift
        w, target = np.ones(len(source)), source
    w = w / target.sum()  # priors sum to 1
    return {"weights": w.tolist(), "source_priors": source.tolist(), "estimated_target_priors": (w * source).tolist()}


class LabelShift(PostHoc):
    """Re-weights the classes of a source model to estimated target priors, through its classifier's bias;
    the estimate reads the held-out source validation set."""

    needs_validation = True

    def classifier(self, model) -> nn.Linear:
        """The linear classifier whose bias the class re-weighting goes into."""
        classifier = model.features_module
        if not isinstance(classifier, nn.Linear) or classifier.bias is None:
            raise UserError(f"strategy.name: {self.name} re-weights the classes through the classifier's bias, and "
                            f"this model's head ({type(classifier).__name__}) has none")
        return classifier


@register("bbse")
class BBSE(LabelShift):

    def adjust(self, model, predict, trained_prior) -> dict:
        classifier = self.classifier(model)
        n = len(model.label_names)
        val_logits, val_true = predict("validation")
        target_logits, _ = predict("target_unlabelled")
        shift = estimate_label_shift(val_logits.argmax(1).numpy(), val_true.numpy(), target_logits.argmax(1).numpy(), n)
        correction = np.asarray(shift["estimated_target_priors"]) / np.maximum(trained_prior, 1e-12)
        with torch.no_grad():  # p_t(y|x) ~ q_t(y) / pi(y) p(y|x)
            c = torch.tensor(correction, dtype=classifier.bias.dtype, device=classifier.bias.device)
            classifier.bias.add_(torch.log(c.clamp(min=1e-6)))
        return {"label_shift": {"method": "bbse", **shift, "trained_prior": list(map(float, trained_prior)),
                                "correction": correction.tolist()}}


def estimate_priors_em(probs: np.ndarray, source_priors: np.ndarray, max_iter: int = 1000,
                       tol: float = 1e-8) -> tuple[np.ndarray, int]:
    """Saerens' EM: the target priors q that maximise the likelihood of unlabelled samples whose
    posteriors under the source priors `source_priors` are `probs` (n x k). Returns (q, iterations)."""
    q = source_priors.copy()
    for i in range(1, max_iter + 1):
        p = probs * (q / source_priors)
        new = (p / p.sum(1, keepdims=True)).mean(0)
        converged = np.abs(new - q).max() < tol
        q = new
        if converged:
            break
    return q, i


def expected_macro_f1(probs: np.ndarray, pred: np.ndarray) -> float:
    """The macro-F1 that predictions `pred` are expected to score when the true classes follow the
    posteriors `probs` (n x k): per class, E[TP] = sum of p_k over the samples predicted k,
    E[FP] = the rest of those samples, E[FN] = p_k summed over the samples predicted otherwise."""
    k = probs.shape[1]
    chosen = np.eye(k)[pred]
    tp = (probs * chosen).sum(0)
    fp = chosen.sum(0) - tp
    fn = probs.sum(0) - tp
    return float(np.mean(2 * tp / np.maximum(2 * tp + fp + fn, 1e-12)))


def macro_f1_offsets(probs: np.ndarray, grid=np.linspace(-4, 4, 33), rounds: int = 3) -> np.ndarray:
    """Log-offsets b for the decision argmax_k(log p_k + b_k) that maximise the expected macro-F1 under
    `probs` (the optimal rule for macro-F1 is a re-weighted argmax, Narasimhan et al. 2015,
    https://proceedings.mlr.press/v37/narasimhanb15.html): coordinate ascent over a grid, from b = 0."""
    log_p = np.log(np.maximum(probs, 1e-12))
    offsets = np.zeros(probs.shape[1])
    best = expected_macro_f1(probs, log_p.argmax(1))
    for _ in range(rounds):
        for c in range(len(offsets)):
            for value in grid:
                trial = offsets.copy()
                trial[c] = value
                score = expected_macro_f1(probs, (log_p + trial).argmax(1))
                if score > best + 1e-9:
                    best, offsets = score, trial
    return offsets


@register("mlls", config=MllsConfig)
class MLLS(LabelShift):

    @property
    def reads_target_labels(self) -> str:
        return "priors: strategy.mlls.target_priors given" \
            if self.cfg.target_priors is not None else ""

    def adjust(self, model, predict, trained_prior) -> dict:
        classifier = self.classifier(model)
        val_logits, val_true = predict("validation")
        temperature, bias = fit_scaling(val_logits, val_true, class_bias=True, max_iter=200, dtype=torch.float32)
        source = np.bincount(val_true.numpy(), minlength=len(model.label_names)) / len(val_true)
        source = np.maximum(source, 1e-12)
        target_logits, _ = predict("target_unlabelled")
        probs = torch.softmax(target_logits.float() / temperature + bias, -1).double().numpy()
        target, iterations = self._target_priors(probs, source)
        correction = target / source
        decision = np.zeros(len(source))
        if self.cfg.decision == "macro_f1":  # the target posteriors, then the macro-F1 rule on them
            posteriors = probs * correction
            decision = macro_f1_offsets(posteriors / posteriors.sum(1, keepdims=True))
        with torch.no_grad():  # logits / T + b + log(q / p_s) (+ the decision offsets), folded into the classifier
            shift = bias + torch.log(torch.tensor(correction, dtype=torch.float).clamp(min=1e-6))
            shift = shift + torch.tensor(decision, dtype=torch.float)
            classifier.weight.div_(temperature)
            classifier.bias.div_(temperature).add_(shift.to(classifier.bias))
        return {"label_shift": {"method": "mlls", "source_priors": source.tolist(),
                                "estimated_target_priors": target.tolist(),
                                "priors_given": self.cfg.target_priors is not None, "weights": correction.tolist(),
                                "temperature": temperature, "calibration_bias": bias.tolist(),
                                "em_iterations": iterations, "decision": self.cfg.decision,
                                "decision_offsets": decision.tolist()}}

    def _target_priors(self, probs: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, int]:
        """(the target priors, EM iterations): the EM estimate, or `target_priors` when given (0 iterations)."""
        given = self.cfg.target_priors
        if given is None:
            return estimate_priors_em(probs, source)
        if len(given) != len(source):
            raise UserError(f"strategy.mlls.target_priors: {len(given)} numbers for {len(source)} classes")
        given = np.asarray(given, dtype=float)
        return np.maximum(given / given.sum(), 1e-12), 0


@report_section
def label_shift_lines(table: dict, runs: dict) -> list[str]:
    """Per label-shift method (bbse, mlls): the target class priors it estimated or was given (mean ± std over seeds) beside
    the source priors and the true target priors (of the target test set, read for this table only)."""
    lines = []
    for r in table["rows"]:
        shifts = [runs[run][0]["label_shift"] for run in r["runs"] if runs[run][0].get("label_shift")]
        if not shifts:
            continue
        where = "given to" if shifts[0].get("priors_given") else "estimated by"
        lines += [f"Target class priors {where} `{r['method']}` ({len(shifts)} seed(s)):", "",
                  "| class | source prior | estimated target prior | true target prior |", "|---|---:|---:|---:|"]
        for i, name in enumerate(table["label_names"]):
            est = spread([x["estimated_target_priors"][i] for x in shifts])
            lines.append(f"| {name} | {shifts[0]['source_priors'][i]:.3f} | {mean_std(est, 4)} | "
                         f"{shifts[0]['true_target_priors'][i]:.3f} |")
        lines.append("")
    return lines
