"""The step every run kind takes once its model is chosen: temperature scaling fitted on the validation split
(train.calibrate), the calibration of each eval set before and after, and out-of-distribution scores of every
other eval set against the in-domain test set. The temperature is folded into the saved model (its last layer
divided by T), so the saved model's probabilities are the calibrated ones wherever it is loaded."""

from __future__ import annotations

import logging

from .. import calibration

log = logging.getLogger("hf_transfer")


def calibrate(cfg, logits: dict, final: dict, features: dict | None = None, in_domain: str | None = None,
              keep: str | None = None) -> tuple[dict, dict]:
    """(final, calibration entry of metrics.json). `logits`: {set: (logits, labels)} of the chosen model;
    `final`: each set's metrics, returned with the calibrated scores and its loss the calibrated NLL (the saved
    model's); `features`: {set: (features, labels)} where the run kept them (domain adaptation), for the
    Mahalanobis score; `in_domain`: the test set the other sets are told apart from; `keep`: why the model is
    kept as it is (no temperature fitted), e.g. a post-hoc adjustment of a model calibrated by its own run."""
    temperature, method, note = 1.0, cfg.train.calibrate, None
    if keep:
        method, note = "none", keep
    elif method == "temperature" and "validation" not in logits:
        method, note = "none", "no validation split to fit a temperature on (data.validation_split is null)"
    elif method == "temperature" and (logits["validation"][0].argmax(1) == logits["validation"][1]).all():
        method, note = "none", ("the validation split is classified without an error, so a temperature fitted on it "
                                "would only sharpen the probabilities towards 1")
    elif method == "temperature":
        temperature = calibration.fit_temperature(*logits["validation"])
        log.info("temperature scaling: T = %.3f (fitted on validation)", temperature)
    sets, final = {}, {k: dict(v) for k, v in final.items()}
    for name, (z, y) in logits.items():
        before, before_curves = calibration.scores(z, y), calibration.curves(z, y)
        scaled = temperature != 1.0  # else after is before: scored once
        after = calibration.scores(z / temperature, y) if scaled else before
        sets[name] = {"before": before, "after": after, "before_curves": before_curves,
                      "after_curves": calibration.curves(z / temperature, y) if scaled else before_curves}
        if name in final:
            final[name].update(loss=after["nll"], calibration=after)
    entry = {"method": method, "temperature": temperature, "fitted_on": "validation" if method == "temperature" else None,
             "bins": f"{calibration.BINS} of equal mass (ece), {calibration.BINS} of equal width (ece_equal_width)",
             "sets": sets, "ood": ood(logits, temperature, features or {}, in_domain)}
    if note:
        entry["note"] = note
    return final, entry


def ood(logits: dict, temperature: float, features: dict, in_domain: str | None) -> dict:
    """{set: {msp, energy[, mahalanobis]}}: the AUROC of telling each other eval set from `in_domain` (the
    calibrated logits; the Mahalanobis class means and covariance fitted on the validation features)."""
    in_domain = in_domain or next((n for n in logits if n != "validation"), None)  # the first eval split
    if in_domain not in logits:
        return {}
    fit = features.get("validation")
    out = {}
    for name, (z, _) in logits.items():
        if name in (in_domain, "validation"):
            continue
        both = in_domain in features and name in features and fit is not None
        out[name] = calibration.ood_auroc(
            logits[in_domain][0] / temperature, z / temperature,
            features[in_domain][0] if both else None, features[name][0] if both else None,
            fit[0] if both else None, fit[1] if both else None)
    return out
