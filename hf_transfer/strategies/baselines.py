"""The domain-adaptation baselines every method is measured against (with `data.target`).

* `source_only`: full fine-tuning on the labelled source, tested on source and target: the
  floor. The gap between its source and target accuracy is the domain gap.
* `target_finetune`: full fine-tuning on the few labelled target samples
  (`data.target.labelled_samples`); start it from a source-only model (`model.name: <run>/model`)
  for "source pretraining + a few target labels".
* `oracle`: full fine-tuning on all labelled target training samples: the ceiling. A method's
  share of the gap closed is (its target accuracy - source_only's) / (oracle's - source_only's).
"""

from __future__ import annotations

from .base import Strategy


class SourceOnly(Strategy):
    name = "source_only"


class TargetFinetune(Strategy):
    name = "target_finetune"
    train_on = "target_labelled"


class Oracle(Strategy):
    name = "oracle"
    train_on = "target"
