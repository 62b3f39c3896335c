"""WiSE-FT, robust fine-tuning by weight-space ensembling (Wortsman et al. 2022, https://arxiv.org/abs/2109.01903).

The fine-tuned model (`model.name`) and the model its fine-tuning started from (`strategy.wise_ft.start`: a
linear_probe or frozen_logreg run's model/ of the same backbone) are the same network with two sets of weights;
WiSE-FT uses (1 - alpha) * start + alpha * fine-tuned. Fine-tuning gains in domain and often loses robustness
under a shift; the interpolation keeps much of both. alpha is chosen on the source validation split
(`metric`), never on a target set; the whole curve (every eval set's accuracy and macro-F1 per alpha) goes to
metrics.json `wise_ft` and the adaptation report. alpha 0 is the start model and alpha 1 the fine-tuned one,
exactly. Both ends are saved models, whose runs folded their temperature into the last layer, so the heads
mixed are the calibrated ones; a new temperature is fitted on source validation for the mixed model
(train.calibrate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..errors import UserError
from ..fields import option
from ..intervals import bracket, mean_std, signed, spread, t_interval
from .posthoc import PostHoc
from .registry import register, report_section


@dataclass
class WiseFtConfig:
    start: str | None = option(
        None, "The model the fine-tuning started from (a linear_probe or frozen_logreg run's model/ folder, or a "
              "Hub id): the same network as model.name, the fine-tuned one.")
    alphas: list = option([round(0.1 * i, 1) for i in range(11)],
                          "The mixing weights tried: 0 is the start model, 1 the fine-tuned one.")
    metric: Literal["f1_macro", "accuracy"] = option("f1_macro", "What alpha is chosen by, on source validation.")

    def rules(self) -> list[tuple[str, bool, str]]:
        a = self.alphas
        return [("alphas", bool(a) and all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in a),
                 "must be a non-empty list of numbers in [0, 1]")]

    def rules_in_use(self) -> list[tuple[str, bool, str]]:
        return [("start", bool(self.start), "required: the model/ folder the fine-tuning started from")]


def interpolate(start: dict, tuned: dict, alpha: float) -> dict:
    """(1 - alpha) * start + alpha * tuned for every floating tensor (weights, BatchNorm statistics); counters
    (num_batches_tracked) are the fine-tuned model's. alpha 0 and 1 give the two state dicts exactly."""
    return {k: (1.0 - alpha) * start[k] + alpha * v if v.is_floating_point() else v for k, v in tuned.items()}


def _scores(logits: torch.Tensor, labels: torch.Tensor, label_names: list[str]) -> dict:
    """Accuracy and macro-F1 by the code that scores every eval set (metrics.classification_metrics)."""
    from ..metrics import classification_metrics

    scored = classification_metrics(logits.argmax(-1).tolist(), labels.tolist(), label_names)
    return {"accuracy": scored["accuracy"], "f1_macro": scored["f1_macro"]}


@register("wise_ft", config=WiseFtConfig)
class WiseFT(PostHoc):
    needs_validation = True
    keeps_temperature = False  # the interpolated model is a new one: its temperature is fitted again

    def start_weights(self, model) -> dict:
        from ..models import load_like

        start = load_like(model, self.cfg.start, "strategy.wise_ft.start").state_dict()
        tuned = model.state_dict()
        differ = [k for k in tuned if k not in start or start[k].shape != tuned[k].shape]
        if differ or len(start) != len(tuned):
            example = differ[0] if differ else next(k for k in start if k not in tuned)
            raise UserError(f"strategy.wise_ft.start: {self.cfg.start} is not the network of model.name (e.g. "
                            f"{example!r} differs); give the model/ the fine-tuning started from (a linear_probe or "
                            "frozen_logreg run of the same backbone, without a bottleneck or hidden head layers)")
        return start

    def adjust(self, model, predict, trained_prior: np.ndarray) -> dict:
        start, tuned = self.start_weights(model), {k: v.clone() for k, v in model.state_dict().items()}
        curve = []
        for alpha in sorted(set(float(a) for a in self.cfg.alphas)):
            model.load_state_dict(interpolate(start, tuned, alpha))
            curve.append({"alpha": alpha, "sets": {name: _scores(*predict(name), model.label_names)
                                                   for name in predict.labelled}})
        best = max(curve, key=lambda p: (p["sets"]["validation"][self.cfg.metric], p["alpha"]))  # ties: nearer 1
        model.load_state_dict(interpolate(start, tuned, best["alpha"]))
        return {"wise_ft": {"start_model": self.cfg.start, "alpha": best["alpha"],
                            "chosen_on": f"validation/{self.cfg.metric}", "curve": curve}}


@report_section
def wise_ft_lines(table: dict, runs: dict) -> list[str]:
    """Per WiSE-FT method: its alpha curve (source validation macro-F1, source and target test accuracy per alpha;
    mean ± std over seeds), the alpha each seed chose on source validation, and the chosen model against the
    fine-tuned one (alpha 1) on the same seed, with 95 % intervals."""
    lines = []
    for r in table["rows"]:
        mine = [runs[run][0] for run in r["runs"] if runs[run][0].get("wise_ft")]
        if not mine:
            continue
        d = mine[0]["domains"]
        at = [{p["alpha"]: p["sets"] for p in m["wise_ft"]["curve"]} for m in mine]
        lines += [f"WiSE-FT alpha curve of `{r['method']}` ({len(mine)} seed(s); alpha 0: the start model, 1: the "
                  f"fine-tuned one; chosen on {mine[0]['wise_ft']['chosen_on']}: "
                  f"{', '.join(str(m['wise_ft']['alpha']) for m in mine)}):", "",
                  "| alpha | source validation macro-F1 | source test acc | target acc |", "|---:|---:|---:|---:|"]
        for alpha in sorted(set.intersection(*(set(a) for a in at))):
            cell = lambda s, k: mean_std(spread([a[alpha][s][k] for a in at]))  # noqa: E731
            lines.append(f"| {alpha:g} | {cell('validation', 'f1_macro')} | {cell(d['source'], 'accuracy')} | "
                         f"{cell(d['target'], 'accuracy')} |")
        if all(1.0 in a for a in at):
            diff = lambda s: t_interval([a[m["wise_ft"]["alpha"]][s]["accuracy"] - a[1.0][s]["accuracy"]  # noqa: E731
                                        for a, m in zip(at, mine)])
            src, tgt = diff(d["source"]), diff(d["target"])
            lines += ["", f"Chosen alpha against the fine-tuned model (paired): source test {signed(src['mean'])} "
                          f"{bracket(src)}, target {signed(tgt['mean'])} {bracket(tgt)} accuracy."]
        lines.append("")
    return lines
