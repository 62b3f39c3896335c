"""The training loop, on accelerate: one fixed order of steps for every backbone and strategy.

    1. run directory (refuse to clobber)   2. data splits        3. backbone + new head
    4. strategy.setup                      5. loaders            6. optimizer, prepare, schedule
    7. resume state                        8. epochs (train_one_epoch): train steps
                                              (accumulate, clip, step), evaluate every
                                              eval set, keep the best, checkpoint
    9. best weights -> model/ + card, metrics.json, report.md

Devices, processes and precision come from accelerate (`accelerate launch`); every evaluation
sample is counted once across processes (`gather_for_metrics`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import find_executable_batch_size, send_to_device, set_seed
from safetensors.torch import load_model, save_model
from tqdm.auto import tqdm

from .. import run_folder
from ..config import Config, bottleneck_width
from ..data.loaders import build_loaders, join_batches
from ..data.splits import build_splits
from ..errors import ConfigError, UserError
from ..metrics import proxy_a_distance
from ..models import TransferModel, count_parameters, load_backbone
from ..models.heads import add_bottleneck, fold_affine
from ..strategies import get_strategy
from ..strategies.base import Outputs, Step
from ..tasks import metric_for_best
from . import checkpoint, lifecycle, outputs
from .machine import environment, fresh_accelerator, peak_host_memory_mb, set_numerics
from .optim import build_optimizer, make_scheduler, step_budget
from .scoring import score_sets
from .signals import StopRequest

log = logging.getLogger("hf_transfer")

@dataclass
class TrainState:
    """What the loop knows besides the weights; saved as trainer_state.json in each checkpoint."""

    global_step: int = 0  # optimizer steps done
    epoch: int = 0  # epochs finished
    history: list = field(default_factory=list)  # one entry per evaluated epoch
    best: dict = field(default_factory=dict)  # {"epoch", "value"} on validation
    strategy: dict = field(default_factory=dict)
    target_batches: int = 0  # unlabelled target batches drawn (domain adaptation)
    terms: dict = field(default_factory=dict)  # sums of the strategies' reported terms since the last evaluation
    term_steps: int = 0
    # carried so that a resumed run reports what an uninterrupted one does
    epoch_loss_sum: float = 0.0  # train loss summed over the batches of the unfinished epoch
    epoch_batches: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    samples_seen: int = 0


@contextlib.contextmanager
def _contiguous(model):
    """Weights in the standard layout while they are saved (safetensors refuses channels_last strides);
    `model`: the model whose weights are channels_last, or None (nothing to do)."""
    if model is None:
        yield
        return
    model.to(memory_format=torch.contiguous_format)  # in place: the optimizer keeps the same parameters
    try:
        yield
    finally:
        model.to(memory_format=torch.channels_last)


def _save_checkpoint(loop: Loop, state: TrainState) -> None:
    """A resumable checkpoint (checkpoint.py: safetensors and JSON, no pickle)."""
    accelerator, out, strategy = loop.accelerator, loop.out, loop.strategy
    state.strategy = strategy.state_dict()
    state.terms = {k: float(v) for k, v in state.terms.items()}  # JSON (a host sync, at checkpoints only)
    ckpt = run_folder.checkpoint_dir(out, state.global_step)
    tmp = run_folder.writing(ckpt)  # written whole, then renamed into place: a kill leaves no half checkpoint
    try:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        with _contiguous(loop.cl_model), run_folder.os_errors():
            checkpoint.save(tmp, accelerator, loop.model, loop.optimizer, loop.scheduler)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            (tmp / checkpoint.STATE).write_text(json.dumps(state.__dict__, indent=1))
            run_folder.put_in_place(tmp, ckpt)
            run_folder.prune(out, loop.t.keep_checkpoints)
    except OSError as e:
        if e.errno not in run_folder.NO_SPACE:
            raise
        _no_space_for_checkpoint(out, ckpt, tmp)
    accelerator.wait_for_everyone()


def _no_space_for_checkpoint(out: Path, ckpt: Path, tmp: Path) -> None:
    """The disk filled up while a checkpoint was written: the half-written folder goes, the last complete
    checkpoint stays, metrics.json says failed, and one line says so."""
    shutil.rmtree(tmp, ignore_errors=True)
    kept = run_folder.latest_checkpoint(out)
    message = (f"no space left on device while writing {ckpt.relative_to(out)}; " +
               (f"the last complete checkpoint, {kept.name}{' (written before at this step)' if kept == ckpt else ''}, "
                "is kept (free space, then --resume)" if kept else "no checkpoint was complete yet"))
    if run_folder.is_main_process():
        with contextlib.suppress(OSError):
            run_folder.write_metrics(out, {"status": "failed", "message": message,
                                           "last_checkpoint": kept.name if kept else None})
    raise UserError(message)


class DivergenceWatch:
    """Finds the first optimizer step whose loss is NaN/inf or above train.max_loss, on the device (no host
    sync per step); `check` (a sync, now and then and before every save) ends a diverged run: metrics.json
    says 'diverged' with the step and the last good loss, the checkpoints saved so far stay, no model is saved."""

    def __init__(self, t, device):
        self.max_loss = t.max_loss if t.max_loss is not None else math.inf
        self.advice = f"lower train.lr ({t.lr:g})" + ("" if t.max_grad_norm else " or set train.max_grad_norm")
        self.bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self.bad_loss = torch.zeros((), device=device)
        self.last_good = torch.full((), math.nan, device=device)

    def observe(self, loss: torch.Tensor, step: int) -> None:
        value = loss.detach().float()
        good = torch.isfinite(value) & (value.abs() <= self.max_loss)
        first = (~good) & (self.bad_step < 0)
        self.bad_step = torch.where(first, step, self.bad_step)
        self.bad_loss = torch.where(first, value, self.bad_loss)
        self.last_good = torch.where(good & (self.bad_step < 0), value, self.last_good)

    def check(self, out: Path) -> None:
        step = int(self.bad_step)
        if step < 0:
            return
        bad, last = float(self.bad_loss), float(self.last_good)
        kept = run_folder.latest_checkpoint(out)
        message = (f"loss became {'NaN' if math.isnan(bad) else f'{bad:.3g}'} at step {step}: the run diverged; "
                   f"{self.advice}" + (f" (the last good checkpoint, {kept.name}, is kept)" if kept else ""))
        if run_folder.is_main_process():
            run_folder.write_metrics(out, {"status": "diverged", "step": step, "loss": bad, "message": message,
                                           "last_finite_loss": last if math.isfinite(last) else None})
        raise UserError(message)


def _patience_ran_out(state: TrainState, t) -> bool:
    """train.early_stopping_patience evaluations without a better validation score, min_steps done."""
    if not t.early_stopping_patience or not state.best or state.global_step < (t.min_steps or 0):
        return False
    since_best = sum(h["epoch"] > state.best["epoch"] for h in state.history)
    return since_best >= t.early_stopping_patience


def run(cfg: Config, strategy, start: lifecycle.Start) -> dict:
    """Train `cfg` through the loop and finish the run (lifecycle.finish); returns metrics.json. With
    train.auto_batch_size, a run that runs out of GPU memory starts again with half the batch (accelerate's
    find_executable_batch_size); the folder it made is its own, so it is replaced."""
    if not cfg.train.auto_batch_size:
        return _train(cfg, start)
    return _train_finding_batch_size(cfg, start)


def _train_finding_batch_size(cfg: Config, start: lifecycle.Start) -> dict:
    import copy

    tries = []

    @find_executable_batch_size(starting_batch_size=cfg.train.batch_size)
    def attempt(batch_size):
        c = copy.deepcopy(cfg)
        c.train.batch_size = batch_size
        if tries:
            log.warning("out of memory at batch size %d; trying %d", tries[-1], batch_size)
        again = bool(tries)
        tries.append(batch_size)
        if again and run_folder.is_main_process():  # the failed try's own folder (a run it replaced stays aside)
            shutil.rmtree(c.output_dir, ignore_errors=True)
        return _train(c, dataclasses.replace(start, resume=start.resume and not again))

    return attempt()


@dataclass
class Loop:
    """What the loop builds once (steps 1-7 of the module docstring) and its running values: the one
    object the step, epoch, evaluation and finish functions below share."""

    cfg: Config
    accelerator: Accelerator
    strategy: object
    splits: object
    model: TransferModel  # prepared by accelerate (wrapped when distributed)
    loaders: object
    train_dl: object
    eval_dls: dict
    optimizer: object
    scheduler: object
    metric: str  # the validation metric that picks the epoch (train.metric_for_best, or the task's own)
    cl_model: TransferModel | None  # the model, when its weights are channels_last (made standard while saving)
    steps_per_epoch: int
    total_steps: int
    epochs: int
    start: lifecycle.Start
    state: TrainState = field(default_factory=TrainState)
    watch: DivergenceWatch | None = None
    # the running values of the epoch under way (saved in mid-epoch checkpoints through `state`)
    running: torch.Tensor | float = 0.0
    count: int = 0
    tick: float = 0.0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    samples_seen: int = 0
    resumed_mid_epoch: bool = False
    selected_features: dict = field(default_factory=dict)  # of the kept epoch: {set: (features, labels)}
    selected_logits: dict = field(default_factory=dict)  # of the kept epoch: {set: (logits, labels)}, for calibration
    stopped: bool = False
    early_stopped: bool = False

    @property
    def out(self) -> Path:
        return self.start.out

    @property
    def t(self):
        return self.cfg.train

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def unwrapped(self) -> TransferModel:
        return self.accelerator.unwrap_model(self.model)

    @property
    def has_validation(self) -> bool:
        return "validation" in self.eval_dls

    @property
    def reads_validation(self) -> bool:
        """Whether the validation scores choose anything (the kept epoch, early stopping): a validation split of at
        least train.min_validation_rows rows. A smaller one is still scored, and fits the calibration."""
        return self.has_validation and len(self.splits.validation) >= self.t.min_validation_rows

    @property
    def scored_each_time(self) -> dict:
        """The eval loaders of each evaluation: all, or (train.test_during_training false) the validation split and
        the domain sets; the others are scored once, on the kept weights (_select). Without a validation split
        every set is scored each time (the per-epoch table has nothing else to show)."""
        if self.t.test_during_training or not self.has_validation:
            return self.eval_dls
        keep = {"validation", *self.splits.domains.values()}
        return {name: dl for name, dl in self.eval_dls.items() if name in keep}

    @property
    def best_path(self) -> Path:
        return self.out / run_folder.CHECKPOINTS / run_folder.BEST / "model.safetensors"


def _accelerator(cfg: Config) -> Accelerator:
    """Checks that need no data, then the accelerator (devices, processes, precision)."""
    t = cfg.train
    if t.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError("train.mixed_precision: fp16 needs a GPU; use bf16 or no on this machine")
    accelerator = fresh_accelerator(mixed_precision=t.mixed_precision, gradient_accumulation_steps=t.grad_accum_steps,
                                    log_with=t.log_with, project_dir=cfg.output_dir)
    set_numerics(t, accelerator.device)
    return accelerator


def _load(cfg: Config, accelerator: Accelerator, start: lifecycle.Start):
    """Steps 1-4: data splits, backbone (+ bottleneck), strategy.setup, then the run directory."""
    t = cfg.train
    set_seed(t.seed)
    strategy = get_strategy(cfg.strategy)
    with accelerator.main_process_first():  # the folder is made only once data and model load: a bad id leaves nothing
        splits = build_splits(cfg.data, cfg.modality, t.seed, train_on=strategy.train_on, task=cfg.task)
        strategy.check_task(splits.task)
        metric_for_best(cfg, splits.task)
        splits.task.fit(splits.task.label_array(splits.train), splits.label_names, cfg, accelerator.device)
        if strategy.uses_target and splits.target_train is None:  # data.labelled_per_class took every row
            raise UserError(f"data.labelled_per_class: {cfg.data.labelled_per_class} per class leaves no unlabelled "
                            f"training rows for strategy {strategy.name}; keep fewer labels")
        set_seed(t.seed)  # the new head's init must not depend on what loading the data drew
        model: TransferModel = load_backbone(cfg.model, splits.modality, splits.label_names)
        model.adapter.set_problem_type(model, splits.task.problem_type)
    lifecycle.open_folder(start, cfg, accelerator)
    log.info("data: %s %s, %d labels, train=%d (%s), %s%s", splits.modality, splits.task.name, len(splits.label_names),
             len(splits.train),
             strategy.train_on, ", ".join(f"{k}={len(v)}" for k, v in splits.eval_sets.items()),
             f", unlabelled target={len(splits.target_train)}" if strategy.uses_target else "")
    for part in getattr(strategy, "strategies", [strategy]):
        if splits.modality == "text" and getattr(part, "text_warning", ""):
            splits.warnings.append(part.text_warning.format(name=part.name))
            log.warning(splits.warnings[-1])
    alone = next((s for s in getattr(strategy, "strategies", [strategy]) if s.single_process), None)
    if accelerator.num_processes > 1 and alone:
        raise UserError(f"strategy.name: {alone.name} needs a single process ({alone.single_process})")
    if bottleneck_width(cfg) and model.head_is_new:
        add_bottleneck(model, bottleneck_width(cfg), zero_classifier=cfg.model.new_head_init == "zeros")
    strategy.setup(model)
    if cfg.model.new_head_init == "logreg" and model.head_is_new and not start.resume:
        from .logreg import init_head_from_logreg

        init_head_from_logreg(model, splits, cfg)
    return strategy, splits, model


def _build(cfg: Config, accelerator: Accelerator, start: lifecycle.Start) -> Loop:
    """Steps 1-6: the above, then loaders, optimizer, accelerate's prepare and the schedule."""
    t = cfg.train
    strategy, splits, model = _load(cfg, accelerator, start)
    shard = (accelerator.process_index, accelerator.num_processes) if strategy.uses_target else None
    loaders = build_loaders(splits, model, cfg.data, t.batch_size, t.eval_batch_size or 2 * t.batch_size, t.seed,
                            augment={**cfg.data.augment, **strategy.data_augment()}, target_shard=shard)
    log.info("data pipeline: %s", loaders.pipeline)
    metric = metric_for_best(cfg, splits.task)
    optimizer = build_optimizer(model, strategy, t, accelerator.device)
    cl_model = None
    if t.channels_last if t.channels_last is not None else (model.adapter.channels_last_on_gpu and accelerator.device.type == "cuda"):
        model.to(memory_format=torch.channels_last)  # in place: the optimizer's parameters stay the same objects
        cl_model = model
    if t.compile:
        model.net.compile()  # in place: parameter names (checkpoints, saving) stay as they are
    model, optimizer, train_dl = accelerator.prepare(model, optimizer, loaders.train)
    eval_dls = {name: accelerator.prepare_data_loader(dl) for name, dl in loaders.evals.items()}
    steps_per_epoch = math.ceil(len(train_dl) / t.grad_accum_steps)
    scheduler = make_scheduler(optimizer, t, steps_per_epoch)
    total_steps, epochs = step_budget(t, steps_per_epoch)
    if t.log_with:
        accelerator.init_trackers(cfg.name, config={k: str(v) for k, v in cfg.to_dict()["train"].items()})
    return Loop(cfg, accelerator, strategy, splits, model, loaders, train_dl, eval_dls, optimizer, scheduler,
                metric, cl_model, steps_per_epoch, total_steps, epochs, start,
                watch=DivergenceWatch(t, accelerator.device))


def _resume(loop: Loop) -> None:
    """Step 7: the newest complete checkpoint's weights, optimizer, schedule, RNG and loop state."""
    ckpt = run_folder.latest_checkpoint(loop.out)
    for skipped in run_folder.incomplete_checkpoints(loop.out):
        log.warning("skipping checkpoint %s: incomplete (no trainer_state.json; it was cut short while written)",
                    skipped.name)
    saved = checkpoint.load(ckpt, loop.accelerator, loop.model, loop.optimizer, loop.scheduler)
    unknown = set(saved) - {f.name for f in dataclasses.fields(TrainState)}
    if unknown:
        raise UserError(f"--resume: {ckpt.name} cannot be loaded ({checkpoint.STATE} has fields this version does not "
                        f"know: {', '.join(sorted(unknown))})")
    loop.state = TrainState(**saved)
    loop.strategy.load_state_dict(loop.state.strategy)
    log.info("resumed from %s (step %d)", ckpt, loop.state.global_step)


def _train(cfg: Config, start: lifecycle.Start) -> dict:
    loop = _build(cfg, _accelerator(cfg), start)
    if start.resume:
        _resume(loop)
    if loop.loaders.target is not None:
        loop.loaders.target.start(loop.state.target_batches)
    trainable, total = count_parameters(loop.unwrapped)
    log.info("model %s (%s): %d of %d parameters trainable", cfg.model.name, loop.unwrapped.library, trainable, total)
    state = loop.state
    loop.train_seconds, loop.eval_seconds, loop.samples_seen = state.train_seconds, state.eval_seconds, state.samples_seen
    loop.resumed_mid_epoch = state.global_step % loop.steps_per_epoch != 0
    _run_epochs(loop)
    if loop.stopped and state.global_step < loop.total_steps:
        msg = f"stopped after {state.global_step} steps (train.stop_after_steps); continue with --resume"
        log.info(msg)
        return {"status": "stopped", "global_step": state.global_step, "message": msg}
    return _finish(loop)


def _checkpoint(loop: Loop, mid_epoch: bool) -> None:
    """Save a resumable checkpoint with the loop's running sums (mid-epoch: the unfinished epoch's);
    never of a diverged model."""
    state = loop.state
    loop.watch.check(loop.out)
    state.epoch_loss_sum, state.epoch_batches = (float(loop.running), loop.count) if mid_epoch else (0.0, 0)
    state.train_seconds = loop.train_seconds + (time.perf_counter() - loop.tick if mid_epoch else 0.0)
    state.eval_seconds, state.samples_seen = loop.eval_seconds, loop.samples_seen
    _save_checkpoint(loop, state)


def _run_epochs(loop: Loop) -> None:
    """Step 8: every epoch under one signal handler; a signal or an error closes the progress bar first."""
    state = loop.state
    signalled = StopRequest(enabled=loop.accelerator.num_processes == 1)  # several processes: stop at once, as before
    bar = tqdm(total=loop.total_steps, initial=state.global_step, desc=loop.cfg.name, unit="step",
               disable=not loop.accelerator.is_local_main_process, dynamic_ncols=True)
    loop.model.train()
    with signalled:
        try:
            for epoch in range(state.global_step // loop.steps_per_epoch, loop.epochs):
                if train_one_epoch(loop, epoch, bar, signalled)["end"]:
                    break
        except KeyboardInterrupt:  # a second signal, or several processes: the step under way is not saved
            bar.close()
            last = run_folder.latest_checkpoint(loop.out)
            raise UserError(f"interrupted at step {state.global_step}, inside a step: "
                            + (f"continue from {last.name} with --resume" if last else "no checkpoint yet")) from None
        except UserError:
            bar.close()
            raise
    bar.close()


def train_one_epoch(loop: Loop, epoch: int, bar, signalled) -> dict:
    """One epoch: its steps, then (when due) the evaluation, then a checkpoint. Returns its metrics: the epoch, the
    mean train loss, the steps done, the evaluation (`evaluate`, when due) and `end`: the loop ends here."""
    t, state, accelerator = loop.t, loop.state, loop.accelerator
    done_in_epoch = state.global_step - epoch * loop.steps_per_epoch
    loop.loaders.sampler.begin(epoch, skip=done_in_epoch * t.grad_accum_steps * t.batch_size * accelerator.num_processes)
    loop.strategy.on_epoch_start(epoch, loop.unwrapped)
    loop.model.train()  # after the hook: BatchNorm of groups it (un)froze follows (TransferModel.train)
    loop.running, loop.count = (state.epoch_loss_sum, state.epoch_batches) if loop.resumed_mid_epoch else (0.0, 0)
    loop.resumed_mid_epoch = False
    loop.tick = time.perf_counter()
    for batch in loop.train_dl:
        loss, batch_size = _step(loop, batch)
        loop.running += loss.detach().float()  # stays on the device: no host sync per step
        loop.count += 1
        loop.samples_seen += batch_size * accelerator.num_processes
        if accelerator.sync_gradients and _after_step(loop, epoch, bar, signalled):
            break
    loop.train_seconds += time.perf_counter() - loop.tick
    if loop.stopped and state.global_step % loop.steps_per_epoch:  # mid-epoch: no eval, resume goes on from here
        loop.train_seconds -= time.perf_counter() - loop.tick  # counted by _checkpoint for the unfinished epoch
        _checkpoint(loop, mid_epoch=True)
        return {"epoch": epoch + 1, "train_loss": float(loop.running) / max(loop.count, 1),
                "step": state.global_step, "end": True}
    state.epoch = epoch + 1
    loop.watch.check(loop.out)
    metrics = {"epoch": state.epoch, "train_loss": float(loop.running) / max(loop.count, 1), "step": state.global_step}
    if state.epoch % t.eval_every_epochs == 0 or state.epoch == loop.epochs:
        metrics["eval"] = validate(loop)["eval"]
    _checkpoint(loop, mid_epoch=False)
    if loop.early_stopped:
        log.info("early stopping at epoch %d: validation %s has not improved since epoch %d",
                 state.epoch, loop.metric, state.best["epoch"])
    return {**metrics, "end": loop.stopped or loop.early_stopped}


def _step(loop: Loop, batch: dict) -> tuple[torch.Tensor, int]:
    """One forward/backward pass (one optimizer step once the accumulation is complete): the task loss,
    the strategy's loss and, with a target domain, its transfer loss on the joint batch. Returns (loss, batch size)."""
    t, accelerator, model, strategy = loop.t, loop.accelerator, loop.model, loop.strategy
    stream = loop.loaders.target
    with accelerator.accumulate(model):
        step = Step(loop.loaders.on_device(batch, True), model=loop.unwrapped,
                    progress=loop.state.global_step / loop.total_steps, task=loop.splits.task)
        strategy.mix(step)
        batch = step.batch
        if stream is not None:  # source and unlabelled target in one forward pass
            target = loop.loaders.on_device_target(send_to_device(stream.next(), accelerator.device), True)
            n = len(batch["labels"])
            tokenizer = loop.unwrapped.processor if loop.splits.modality == "text" else None
            joint = join_batches(batch, strategy.view_target(target), getattr(tokenizer, "pad_token_id", None) or 0,
                                 getattr(tokenizer, "padding_side", "right"))
            logits, features = model(joint, return_features=True)
            step.target = Outputs(logits[n:], features[n:], target)
            logits, features = logits[:n], features[:n]
            loop.state.target_batches = stream.consumed
        else:
            logits, features = model(batch, return_features=True)
        task = loop.splits.task
        step.loss = task.loss(logits, batch["labels"]) if step.soft_targets is None else \
            task.soft_loss(logits, step.soft_targets)
        step.source = Outputs(logits, features, batch)
        loss = strategy.loss(step)
        _add_terms(loop, step.logs)
        loop.watch.observe(loss, loop.state.global_step + 1)
        accelerator.backward(loss)
        if accelerator.sync_gradients and t.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
        loop.optimizer.step()
        loop.optimizer.zero_grad(set_to_none=True)
    return loss, batch["labels"].shape[0]


def _add_terms(loop: Loop, logs: dict) -> None:
    """Running sums of the strategies' reported terms (on the device), averaged at the next evaluation."""
    for k, v in logs.items():
        loop.state.terms[k] = loop.state.terms.get(k, 0.0) + v
    loop.state.term_steps += 1 if logs else 0


def _train_terms(loop: Loop) -> dict:
    """The averages of the reported terms since the last evaluation (metrics.json `train_terms`); reset."""
    state = loop.state
    terms = {k: float(v) / max(state.term_steps, 1) for k, v in state.terms.items()}
    state.terms, state.term_steps = {}, 0
    return terms


def _after_step(loop: Loop, epoch: int, bar, signalled) -> bool:
    """After an optimizer step: schedule, progress, periodic checks and checkpoints, a pending signal,
    the step budget. True: the epoch ends here."""
    t, state = loop.t, loop.state
    loop.scheduler.step()
    state.global_step += 1
    if state.global_step == 1 and loop.main:  # started: what --overwrite replaced is gone now
        run_folder.discard_previous(loop.out)
        run_folder.write_metrics(loop.out, {"status": "running", "history": state.history})
    bar.update(1)
    if state.global_step % 10 == 0 or loop.count == len(loop.train_dl):  # a host sync, now and then
        loop.watch.check(loop.out)
        lr = loop.optimizer.param_groups[0]["lr"]
        bar.set_postfix(epoch=epoch + 1, loss=f"{loop.running.item() / loop.count:.4f}", lr=f"{lr:.2e}")
        if t.log_with:
            loop.accelerator.log({"train/loss": loop.running.item() / loop.count, "train/lr": lr}, step=state.global_step)
    if t.checkpoint_every_steps and state.global_step % t.checkpoint_every_steps == 0:
        _checkpoint(loop, mid_epoch=True)
    if signalled.name:  # at a step boundary: the checkpoint resumes exactly
        if not run_folder.is_complete(run_folder.checkpoint_dir(loop.out, state.global_step)):
            _checkpoint(loop, mid_epoch=True)
        raise UserError(f"interrupted ({signalled.name}) at step {state.global_step}; checkpoint saved, continue "
                        "with --resume")
    if t.stop_after_steps and state.global_step >= t.stop_after_steps:
        loop.stopped = True
        return True
    return state.global_step >= loop.total_steps  # a step budget ends inside its last epoch


def validate(loop: Loop) -> dict:
    """Every eval set (and the A-distance between the domains) after an epoch: returns the history entry
    ({"epoch", "step", "train_loss", "eval": {set: metrics}, ...}); keeps the best weights, writes metrics.json
    'running', and notes whether patience ran out."""
    t, state, domains = loop.t, loop.state, loop.splits.domains
    tick = time.perf_counter()
    logits = {}
    results, feats = score_sets(loop.model, loop.scored_each_time, loop.accelerator, loop.splits.task,
                                loop.splits.label_names, feature_sets=_feature_sets(loop), prepare=loop.loaders.on_device,
                                logits_out=logits)
    entry = {"epoch": state.epoch, "step": state.global_step, "train_loss": float(loop.running) / max(loop.count, 1),
             "train_seconds": round(loop.train_seconds, 3), "eval": results}
    if loop.strategy.uses_target:
        entry["train_terms"] = _train_terms(loop)
    if domains:
        entry["a_distance"] = proxy_a_distance(feats[domains["source"]][0], feats[domains["target"]][0], t.seed)
    loop.eval_seconds += time.perf_counter() - tick
    state.history.append(entry)
    task = loop.splits.task
    log.info("epoch %d: %s", state.epoch, "  ".join(f"{k} {task.log_line(v)}" for k, v in results.items()))
    if t.log_with:
        shown = dict.fromkeys([m for m, _, _ in task.headline] + ["loss"])
        loop.accelerator.log({f"{k}/{m}": v[m] for k, v in results.items() for m in shown if m in v},
                             step=state.global_step)
    if loop.reads_validation:
        _keep_if_best(loop, results["validation"][loop.metric], feats, logits)
    if not loop.reads_validation or not t.load_best_at_end:
        loop.selected_features, loop.selected_logits = feats, logits
    if loop.main:
        run_folder.write_metrics(loop.out, {"status": "running", "history": state.history})
    loop.early_stopped = loop.reads_validation and _patience_ran_out(state, t)
    return entry


def _feature_sets(loop: Loop) -> tuple:
    """The eval sets whose features are kept: the domains (A-distance, t-SNE) and, where the run scores more than
    one test set (a target domain, data.extra_eval), every eval set with the validation split the Mahalanobis OOD
    score is fitted on."""
    domains = tuple(loop.splits.domains.values())
    tests = [name for name in loop.eval_dls if name != "validation"]
    return tuple(dict.fromkeys(domains + tuple(loop.eval_dls))) if len(tests) > 1 and loop.has_validation else domains


def _keep_if_best(loop: Loop, value: float, feats: dict, logits: dict) -> None:
    """Save the weights (checkpoints/best) when the validation score beats the best so far."""
    state = loop.state
    if not state.best or loop.splits.task.better(loop.metric, value, state.best["value"]):
        state.best = {"epoch": state.epoch, "value": value}
        loop.selected_features, loop.selected_logits = feats, logits
        if loop.main:
            loop.best_path.parent.mkdir(parents=True, exist_ok=True)
            with _contiguous(loop.cl_model):
                save_model(loop.unwrapped, str(loop.best_path))
    loop.accelerator.wait_for_everyone()


def _finish(loop: Loop) -> dict:
    """Step 9: the selected weights, metrics.json, model/ + card, report.md (and the Hub push when asked)."""
    chosen = _select(loop)
    metrics = _final_metrics(loop, chosen)
    if loop.main:
        _write_outputs(loop, metrics)
    loop.accelerator.wait_for_everyone()
    if loop.t.log_with:
        loop.accelerator.end_training()
    return metrics


def _select(loop: Loop) -> dict:
    """The history entry of the epoch the model is kept from (the best on validation, or the last), its
    weights loaded, and the logits and features of that epoch: the sets not in hand (a run resumed after that
    epoch, the test sets of train.test_during_training false) are scored now, on the kept weights."""
    t, state = loop.t, loop.state
    chosen = state.history[-1]
    if t.load_best_at_end and loop.reads_validation and state.best:
        load_model(loop.unwrapped, str(loop.best_path))
        chosen = next(h for h in state.history if h["epoch"] == state.best["epoch"])
    missing = {name: dl for name, dl in loop.eval_dls.items() if name not in loop.selected_logits}
    if missing:
        tick = time.perf_counter()
        results, feats = score_sets(loop.model, missing, loop.accelerator, loop.splits.task, loop.splits.label_names,
                                    feature_sets=_feature_sets(loop), prepare=loop.loaders.on_device,
                                    logits_out=loop.selected_logits)
        loop.eval_seconds += time.perf_counter() - tick
        loop.selected_features = {**loop.selected_features, **feats}
        chosen["eval"] = {name: chosen["eval"].get(name) or results[name] for name in loop.eval_dls}
    return chosen


def _selected_by(loop: Loop) -> str:
    """How the kept epoch was chosen, and on how many validation rows (metrics.json, the report, the card)."""
    if not loop.has_validation:
        return "last epoch (no validation split)"
    rows = f"{len(loop.splits.validation)} validation rows"
    if not loop.reads_validation:
        return f"last epoch ({rows}, fewer than train.min_validation_rows {loop.t.min_validation_rows}: too few to " \
               "tell epochs apart)"
    if loop.t.load_best_at_end:
        return f"validation/{loop.metric} ({rows})"
    return f"last epoch (train.load_best_at_end: false; {rows})"


def _final_metrics(loop: Loop, chosen: dict) -> dict:
    """metrics.json of a finished run (calibrated by outputs.close)."""
    cfg, t, state, splits, unwrapped = loop.cfg, loop.t, loop.state, loop.splits, loop.unwrapped
    trainable, total = count_parameters(unwrapped)
    timings = {"train_seconds": round(loop.train_seconds, 2), "eval_seconds": round(loop.eval_seconds, 2),
               "train_samples_per_second": round(loop.samples_seen / loop.train_seconds, 2) if loop.train_seconds else None,
               "peak_host_memory_mb": peak_host_memory_mb()}
    if torch.cuda.is_available():
        timings["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    metrics = outputs.metrics(
        cfg, splits, loop.strategy, model_name=cfg.model.name, library=unwrapped.library, model=unwrapped,
        train_samples=len(splits.train), data_pipeline=loop.loaders.pipeline, domains=splits.domains,
        selected_epoch=chosen["epoch"],
        selected_by=_selected_by(loop),
        steps={"done": state.global_step, "budget": loop.total_steps, "per_epoch": loop.steps_per_epoch,
               "early_stopped": loop.early_stopped},
        final=chosen["eval"], history=state.history, parameters={"trainable": trainable, "total": total},
        timings=timings, environment=environment(loop.accelerator), warnings=list(splits.warnings))
    settings = {"class_weights": metrics["class_weights"], "lr": t.lr, "min_steps": t.min_steps}  # as resolved
    metrics["warnings"] += splits.task.warnings(chosen["eval"], splits.label_names, settings)
    return metrics


def _write_outputs(loop: Loop, metrics: dict) -> None:
    """The closing sequence (outputs.close): calibrated, model/ written whole by the strategy or the model, the
    domain features, predictions, then lifecycle.finish (card, report, metrics.json, the Hub push)."""
    cfg, unwrapped = loop.cfg, loop.unwrapped
    image_size = cfg.data.image_size if loop.splits.modality == "image" else None
    if loop.cl_model is not None:
        unwrapped.to(memory_format=torch.contiguous_format)  # training is over

    def write_model(model_dir, entry: dict) -> None:
        fold_affine(unwrapped, **loop.splits.task.output_affine(entry))  # the saved model gives calibrated outputs
        if not loop.strategy.save(unwrapped, model_dir, image_size):
            unwrapped.save_pretrained(model_dir, image_size=image_size)

    outputs.close(loop.start, cfg, metrics, loop.selected_logits, write_model, loop.selected_features,
                  loop.splits.domains, task=loop.splits.task)
