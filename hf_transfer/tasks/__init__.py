"""What a model predicts, one file per task: `single_label` (one class per row), `multi_label` (any number of
labels per row), `regression` (a number). task.py says what a task owns and how a new one is registered.

    get_task(name, saved)    a task object (`saved`: what a saved model carries, task.json)
    detect(values, ...)      config-less: the task a label column asks for, and why
    read_saved(folder)       the task of a saved model folder (task.json; none: the default task)
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError, UserError
from . import multi_label, regression, single_label  # noqa: F401 (they register themselves)
from .task import TASKS, Task, register_task

DEFAULT = "single_label"  # what a label column of classes is, and a saved model without task.json
TASK_FILE = "task.json"  # in a saved model folder: its task and what it needs besides the weights

__all__ = ["DEFAULT", "TASKS", "TASK_FILE", "Task", "detect", "get_task", "metric_for_best", "of_metrics", "read_saved",
           "register_task", "write_saved"]


def get_task(name: str, saved: dict | None = None) -> Task:
    if name not in TASKS:
        raise ConfigError(f"task: {name!r} is not one of: auto, {', '.join(TASKS)}")
    return TASKS[name](saved)


def detect(values: list, feature, data_cfg) -> tuple[str, str | None]:
    """(the task a label column asks for, why; None for the default). Every task but the default is asked; the
    first to claim the column takes it."""
    for name, cls in TASKS.items():
        if name != DEFAULT:
            why = cls.claims(values, feature, data_cfg)
            if why:
                return name, why
    return DEFAULT, None


def metric_for_best(cfg, task: Task) -> str:
    """The validation metric that picks the epoch (or a baseline's regularisation): train.metric_for_best, or the
    task's own; one the task scores."""
    metric = cfg.train.metric_for_best or task.metric_for_best
    if metric not in task.best_metrics:
        raise ConfigError(f"train.metric_for_best: {metric!r} is not one of: {', '.join(task.best_metrics)} "
                          f"(task {task.name})")
    return metric


def of_metrics(metrics: dict) -> Task:
    """The task of a run's (or an evaluation's) metrics.json; one written before tasks were named: the default."""
    return get_task(metrics.get("task") or DEFAULT)


def write_saved(folder: Path, task: Task, entry: dict) -> None:
    state = task.saved_state(entry)
    if state is not None:
        (Path(folder) / TASK_FILE).write_text(json.dumps(state, indent=1))


def read_saved(folder: Path, problem_type: str | None = None) -> Task:
    """The task of a saved model: its task.json, else a transformers config's problem_type, else the default."""
    path = Path(folder) / TASK_FILE
    if path.is_file():
        try:
            state = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UserError(f"model: {path} is not readable JSON ({e}); the folder is damaged") from None
        if not isinstance(state, dict) or state.get("task") not in TASKS:
            raise UserError(f"model: {path} names no known task (one of: {', '.join(TASKS)})")
        return TASKS[state["task"]].from_saved(state, path)
    by_problem = {cls.problem_type: name for name, cls in TASKS.items() if cls.problem_type}
    return get_task(by_problem.get(problem_type, DEFAULT))
