"""The domain-adaptation baselines every method is measured against (with `data.target`).

* `source_only`: full fine-tuning on the labelled source, tested on source and target: the
  floor. The gap between its source and target accuracy is the domain gap.
* `target_finetune`: full fine-tuning on the few labelled target samples
  (`data.target.labelled_samples`); start it from a source-only model (`model.name: <run>/model`)
  for "source pretraining + a few target labels".
* `source_only_joint`: the control of the adversarial methods: source_only's loss, but every step
  runs the joint source + unlabelled target batch through the model (as dann does, with trade-off
  0), so BatchNorm layers normalise with target statistics too and nothing else aligns the domains.
* `oracle`: full fine-tuning on all labelled target training samples: the ceiling. A method's
  share of the gap closed is (its target accuracy - source_only's) / (oracle's - source_only's).
"""

from __future__ import annotations

from .adapt import AdaptStrategy
from .base import Strategy
from .registry import register

FLOOR, CEILING = "source_only", "oracle"  # the domain-adaptation table's floor and ceiling (the gap closed between)
# the rows of a domain-adaptation comparison, by run name: the floor, the methods that train nothing, the controls,
# alignment (with the domain_adaptation recipe's stacks), pseudo-labels, the ceiling; other names after these
REPORT_ORDER = ("source_only", "adabn", "source_only_joint", "bbse", "mlls", "wise_ft", "target_finetune", "dann",
                "dann_adabn", "dann_self_training", "dann_self_training_strong", "dann_strong_views", "cdan",
                "cdan_adabn", "cdan_self_training", "mmd", "mcc", "self_training", "self_training_2", "oracle")


@register("source_only")
class SourceOnly(Strategy):
    """Full fine-tuning on the labelled source alone: the floor of the domain-adaptation table."""


@register("source_only_joint")
class SourceOnlyJoint(AdaptStrategy):
    """The joint source + target batch with a trade-off of 0: adapt() adds nothing, the joint forward pass
    (BatchNorm seeing the target) is the only difference from source_only."""


@register("target_finetune")
class TargetFinetune(Strategy):
    train_on = "target_labelled"
    reads_target_labels = "training: the labelled target samples (data.target.labelled_samples)"


@register("oracle")
class Oracle(Strategy):
    train_on = "target"
    reads_target_labels = "training: every labelled target train sample"
