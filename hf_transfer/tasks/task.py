"""What a task is: the kind of target a model predicts, and everything that differs with it. The loop, the
scoring, the calibration, the saved model, `evaluate` and `predict` ask the task and never test which one it is.

A task is a small object with these hooks (a new one: subclass `Task`, decorate it with `@register_task(name)`,
which makes it known to the config, the data, the loop and every saved model's loader; nothing else lists tasks):

    data         claims(...)             config-less detection: why this task reads the label column (or None)
                 prepare(dd, data_cfg, column)  the label column in the task's form, and the label names
                 labelled(y)             whether a row has a target (the others are left out)
                 align(ds, names, key)   an eval set's labels in the training label order
                 check_train(...)        refusals and warnings about the training labels
                 summary, weights_note   what the config-less run prints about the labels
    training     fit(labels, names, cfg) what the loss needs from the training labels (weights, mean and std)
                 loss(outputs, labels)   the training loss on a batch (soft_loss: on soft targets, where it has one)
                 units(outputs)          the model's outputs in the target's own units (regression's standardisation)
                 head_targets(labels)    labels in the head's raw units (a head fitted before training: LP-FT)
    scoring      scores(outputs, labels, names)    the metrics of an eval set, its `loss` included
                 warnings(final, names, settings)  what a run's scores say is wrong (a collapse)
    trust        calibrate(...)          fitted on validation: a temperature, a scale and bias and a threshold per
                                         label, a conformal interval
                 output_affine(entry)    scale, shift, divide: folded into the saved model's last layer
                 trust_lines(entry)      the report's words on it (None: the class-probability section)
                 saved_state(entry)      what the saved model carries besides its weights (task.json)
    baselines    fit_linear(x, y, strength, ...)   the task's linear model on fixed features (TF-IDF, frozen
                 linear_outputs(model, x)          features), its outputs, and its weights for a linear head
                 linear_head(model, names)
    prediction   predictions(outputs, names)   one dict per row (`hf_transfer.load(...).predict`)
                 columns(outputs, names, ...)  predict's csv columns
    reports      headline, table, card_metrics, figures, noun, names_title, purpose: what reports and cards show

Capabilities strategies check (strategies/base.py `task_needs`): `single_class` (one class per row) and
`soft_targets` (trains on class probabilities).

The head has one output per label name: a class (single_label), a tag (multi_label), the target (regression: one
name, the target column's).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError

TASKS: dict[str, type] = {}


def register_task(name: str):
    """Class decorator: register a task (a `Task` subclass) under `name`."""

    def add(cls: type) -> type:
        if name in TASKS and TASKS[name] is not cls:
            raise ValueError(f"task {name!r} is registered twice ({TASKS[name].__qualname__}, {cls.__qualname__})")
        cls.name = name
        TASKS[name] = cls
        return cls

    return add


class Task:
    name: str  # set by @register_task
    metric_for_best = "loss"  # the validation metric that picks the epoch and early-stops, by default
    best_metrics: tuple[str, ...] = ("loss",)  # what train.metric_for_best may name
    lower_is_better: tuple[str, ...] = ("loss",)
    headline: tuple[tuple[str, str, str], ...] = (("loss", "loss", "loss"),)  # (metric, title, short title): the two
    #   numbers every report, comparison and card shows, the second the one a gain over a baseline is measured in
    table: tuple[tuple[str, str], ...] = (("loss", "loss"),)  # (metric, title): a run's report's results table
    figures: tuple[str, ...] = ()  # report figures of its own: "scatter" (predicted against true, residuals)
    card_metrics: tuple[tuple[str, str], ...] = (("loss", "loss"),)  # (metric, name): the card's model-index results
    noun = "model"  # what the card calls the saved model ("a text classifier")
    names_title = "Outputs"  # what the card calls the label names
    problem_type: str | None = None  # transformers' config.problem_type of a saved model
    soft_targets = False  # takes soft targets (mixup, CutMix, a teacher's probabilities)
    single_class = False  # one class per row (what domain adaptation, pseudo-labels and label shift assume)
    stratified = False  # a carved validation split and subsamples are stratified by label

    def __init__(self, saved: dict | None = None):
        self.saved = dict(saved or {})  # what a saved model carries (task.json): thresholds, an interval
        self.fitted: dict = {}  # set by `fit`, read by `loss` and `units`
        self.names: list[str] = []  # the label names `prepare` found (a run's; empty for a loaded model)

    @classmethod
    def from_saved(cls, state: dict, path) -> Task:
        """The task of a saved model whose task.json is `state` (checked as data: a one-line refusal)."""
        return cls(state)

    # -- data ------------------------------------------------------------------------------------
    @classmethod
    def claims(cls, values: list, feature, data_cfg) -> str | None:
        """Config-less: why this task reads a label column whose values are `values` (None: it does not)."""
        return None

    def prepare(self, dd, data_cfg, column: str):
        """(the DatasetDict with its `label` column in the task's form, the label names); `column`: the label
        column's own name."""
        raise NotImplementedError

    def labelled(self, y) -> bool:
        return y is not None

    def align(self, ds, names: list[str], key: str, subset: bool = False):
        """`ds` (prepared by this task) with its labels in the order of `names`, or a one-line refusal; `subset`:
        a set may lack some of the labels (a saved model scored on other data)."""
        return ds

    def unknown_labels(self, ds, names: list[str]) -> list[str]:
        """The labels of `ds` (prepared by this task) that are not among `names`."""
        return []

    def model_labels(self, ds):
        """`ds` with its `label` column as the loss reads it (multi_label: one 0/1 per label)."""
        return ds

    def label_array(self, ds) -> np.ndarray:
        return np.asarray(self.model_labels(ds)["label"])

    def check_train(self, train, names: list[str]) -> list[str]:
        """Refuse training labels the task cannot learn from (one line); return warnings."""
        return []

    def eval_warnings(self, train, evals: dict, names: list[str]) -> list[str]:
        return []

    # -- training --------------------------------------------------------------------------------
    def fit(self, labels, names: list[str], cfg, device=None) -> None:
        """What the loss needs from the training labels (cfg: the run's Config)."""

    def loss(self, outputs, labels):
        raise NotImplementedError

    def soft_loss(self, outputs, soft_targets):
        raise UserError(f"task {self.name}: this strategy gives soft targets (mixup, CutMix, a teacher's "
                        f"probabilities), which a {self.name} model does not train on")

    def distill_loss(self, student, teacher, temperature: float):
        """A teacher's term for the student's raw outputs, from the teacher's (a saved model: in the task's units)."""
        raise UserError(f"task {self.name}: no distillation term")

    def units(self, outputs):
        """The model's raw outputs (a tensor) in the units `scores` reads (the saved model gives these)."""
        return outputs

    def head_targets(self, labels: np.ndarray) -> np.ndarray:
        """Labels in the units of the head's raw outputs (what `units` maps from), for a head fitted in closed
        form before training (model.new_head_init: logreg)."""
        return labels

    def class_weights(self, setting, labels, names: list[str]):
        """train.class_weights as metrics.json records it (resolved from the training labels)."""
        return None

    # -- scoring ---------------------------------------------------------------------------------
    def scores(self, outputs: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
        raise NotImplementedError

    def calibration_scores(self, outputs: np.ndarray, labels: np.ndarray) -> dict | None:
        """The calibration of a saved (calibrated) model's outputs on an eval set, for `evaluate` (None: none)."""
        return None

    def stored(self, outputs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, labels) of an eval set as predictions.npz keeps them (default: the values, float32)."""
        return np.asarray(outputs, dtype=np.float32).reshape(len(outputs), -1)[:, 0], np.asarray(labels, np.float32)

    def better(self, metric: str, value: float, than: float) -> bool:
        return value < than if metric in self.lower_is_better else value > than

    def warnings(self, final: dict, names: list[str], settings: dict) -> list[str]:
        return []

    def log_line(self, scores: dict) -> str:
        return " ".join(f"{short.lower()}={scores[key]:.4f}" for key, _, short in self.headline if key in scores)

    def summary(self, labels: list, names: list[str]) -> str:
        """The config-less run's words on the training labels (prepared by this task)."""
        return f"{len(names)} outputs"

    def weights_note(self, labels: list, names: list[str]) -> str | None:
        """What train.class_weights auto does with these labels, said in the config-less choice (None: nothing)."""
        return None

    def purpose(self, things: str, names: list[str]) -> str:
        """The card's sentence on what the model does with `things` ('images', 'texts')."""
        return f"maps {things} to its {len(names)} outputs"

    def trust_lines(self, calibration: dict) -> list[str] | None:
        """The report's markdown about how far the outputs can be trusted (None: the class-probability section of
        reports/calibration_report.py, with its figures)."""
        return []

    # -- trust and saving ------------------------------------------------------------------------
    def calibrate(self, cfg, outputs: dict, final: dict, features: dict | None = None, in_domain: str | None = None,
                  keep: str | None = None) -> tuple[dict, dict]:
        """(final with the calibrated scores, metrics.json's `calibration`), from {set: (outputs, labels)}."""
        return final, {"method": "none"}

    def output_affine(self, entry: dict):
        """models.heads.fold_affine's scale, shift and divide, folded into the saved model's last layer."""
        return {}

    def saved_state(self, entry: dict) -> dict | None:
        """What the saved model carries besides its weights, as task.json (None: nothing; the default task)."""
        return {"task": self.name}

    # -- baselines: a linear model on fixed features ---------------------------------------------
    linear_grid: tuple[float, ...] = ()  # the regularisation strengths tried on validation, in this order
    linear_default = 1.0  # the strength without a validation split
    linear_strength = "C"  # what the strength is called (a logistic regression's C; ridge's alpha)
    linear_name = "a linear model"  # how the card and metrics.json name it, with {strength}

    def fit_linear(self, x, y: np.ndarray, strength: float, class_weights, names: list[str], seed: int):
        """A fitted scikit-learn linear model (coef_ (outputs, features), intercept_) of features `x` and labels
        `y` (as label_array gives them); `strength`: one of linear_grid, or linear_default."""
        raise NotImplementedError(f"task {self.name} has no linear baseline")

    def linear_outputs(self, model, x) -> np.ndarray:
        """(rows, outputs) of a fitted linear model (or a pipeline ending in one), as `scores` reads them."""
        return np.asarray(model.decision_function(x)).reshape(x.shape[0], -1)

    def linear_head(self, model, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(weight (outputs, features), bias (outputs,)) giving `linear_outputs` as a linear layer's outputs."""
        return np.asarray(model.coef_).reshape(len(names), -1), np.asarray(model.intercept_).reshape(-1)

    # -- prediction ------------------------------------------------------------------------------
    def predictions(self, outputs: np.ndarray, names: list[str]) -> list[dict]:
        raise NotImplementedError

    def columns(self, outputs: np.ndarray, names: list[str], top_k: int = 3, **options) -> dict:
        """predict's csv columns for these rows ({column: values}); rows of NaN are inputs that were not scored."""
        raise NotImplementedError
