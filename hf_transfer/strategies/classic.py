"""The baselines every user tries first, as strategies: fitted by scikit-learn, not trained by the loop.

Each is its task's linear model (tasks/: a logistic regression for classes, one per label for tags, ridge for a
number).

* `tfidf_logreg` (text): TF-IDF of word uni- and bigrams (sublinear tf) + logistic regression. On
  topic classification it is hard to beat (BBC News: about 0.99 macro-F1 in seconds).
* `frozen_logreg` (any backbone): the frozen pretrained model's features, pooled as the model is
  meant to be pooled (timm's pooled pre-logits; mean pooling for sentence-embedding checkpoints),
  standardised, + logistic regression: "feature transfer" without fine-tuning. The fitted
  regression is folded into the model's linear head, so the saved model/ is a plain timm or
  transformers model that predicts what the regression predicts.

Both choose the regression's inverse regularisation C on the validation split by
`train.metric_for_best`, honour `train.class_weights`, and write the same run directory
(metrics.json, report, card) as a fine-tuned run (`hf_transfer.runs.fitted_run` runs them), so the report
can show what fine-tuning gains over them.
"""

from __future__ import annotations

from .base import Method
from .registry import register


class Fitted(Method):
    """A baseline fitted in closed form on features (runs/fitted_run.py), not trained by the loop."""

    run_kind = "fitted"  # runs/fitted_run.py runs it
    needs_backbone = True
    modalities = ("image", "text")
    features_note = ""  # how the features differ from the pretrained backbone's (setfit: tuned first)

    def tune_body(self, model, splits, cfg) -> None:
        """Before the features are computed: adjust the backbone (setfit tunes it); the baselines leave it as loaded."""


@register("tfidf_logreg")
class TfidfLogreg(Fitted):
    baseline = True
    needs_backbone = False
    modalities = ("text",)


@register("frozen_logreg")
class FrozenLogreg(Fitted):
    """Frozen backbone features + logistic regression (runs/fitted_run.py, runs/logreg.py)."""

    baseline = True
