"""The run directory: what a run leaves behind, and the rule that nothing there is lost unasked.

    config.yaml     the resolved config          metrics.json   every eval split, timings, environment
    report.md       readable summary              model/         save_pretrained output + README.md card
    checkpoints/    accelerate states (resume)    train.log      the log
    features.npz    source/target test features (domain adaptation runs), for the report's embedding
    predictions.npz the predicted class and the label of every row of every eval set (row order), for paired
                    bootstraps over test rows
    run.lock        while a run trains or resumes: which process holds the folder (no second run may touch it)
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import re
import shutil
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

CONFIG, METRICS, REPORT, LOG, FEATURES = "config.yaml", "metrics.json", "report.md", "train.log", "features.npz"
MODEL, CHECKPOINTS, BEST, LOCK = "model", "checkpoints", "best", "run.lock"
PREDICTIONS = "predictions.npz"
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
CANNOT_WRITE = (*NO_SPACE, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG)
STEP_PREFIX = "step_"


def is_main_process() -> bool:
    """Whether this process writes the run directory (rank 0 of `accelerate launch`, or the only one)."""
    return os.environ.get("RANK", "0") == "0"


def strict_json(payload, indent: int = 2) -> str:
    """JSON that other tools can read: a non-finite number (a NaN loss, an infinite ratio) becomes null,
    never a bare NaN / Infinity."""
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(payload), indent=indent, allow_nan=False)


def cannot_write(e: OSError, where: str | Path) -> str:
    """The one line for a write the file system refused (a full disk, a read-only or unwritable folder):
    'REASON while writing PATH' (`where` when the error names no file)."""
    why = "no space left on device" if e.errno in NO_SPACE else (e.strerror or type(e).__name__).lower()
    return f"{why} while writing {e.filename or where}"


def md_text(text) -> str:
    """A name (of a run, a class, a model, a data set) as it goes into a run's markdown and the HTML made from
    it: no raw HTML (<, >, & as entities), no broken table (| escaped), one line (newlines, tabs as spaces)."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return " ".join(s.split())


def check(path: str | Path, overwrite: bool = False, resume: bool = False) -> None:
    """Refuse a directory that holds files unless told to resume or overwrite; change nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"output_dir: {str(path)!r} is a file, not a folder")
    holder = lock_holder(path) if is_main_process() else None  # the lock is rank 0's (the other ranks follow it)
    if holder:
        raise UserError(f"output_dir: {str(path)!r} is in use by {holder}; wait for that run to end, or stop it "
                        "(a run stopped with Ctrl-C continues with --resume)")
    if resume:
        if latest_checkpoint(path) is None:
            raise UserError(f"--resume: {str(path)!r} has no checkpoint to resume from ({CHECKPOINTS}/ is empty or "
                            "missing); run without --resume to start it (with --overwrite if the folder holds files)")
        return
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UserError(f"output_dir: {str(path)!r} already holds files; pass --overwrite to replace them, "
                        "--resume to continue that run, or choose another --output-dir")


def refuse_inputs(output: str | Path, flag: str, inputs: list[tuple[str, object]], sealed: tuple = ()) -> None:
    """A command's output may not be one of its own inputs nor a folder that holds one ((what, path); names
    that are not local paths, a Hub id or pypi:..., are skipped), since --overwrite would move it aside and
    delete it; nor lie inside the folders named in `sealed` (a model folder, a data set), whose contents it
    would change. Checked before anything is written."""
    out = Path(output).expanduser().resolve()
    for what, given in inputs:
        path = Path(str(given)).expanduser() if given else None
        if path is None or not path.exists():
            continue
        path = path.resolve()
        if out == path or out in path.parents or (what in sealed and path in out.parents):
            relation = "is" if out == path else "holds" if out in path.parents else "lies inside"
            raise UserError(f"{flag}: {str(output)!r} {relation} {what} {str(given)!r}, which this command reads; "
                            f"choose an {flag} outside it")


def previous(path: str | Path) -> Path:
    """Where `--overwrite` keeps the run it replaces until the new run has started."""
    path = Path(path)
    return path.parent / f".{path.name}.replaced"


def prepare(path: str | Path, overwrite: bool = False, resume: bool = False) -> Path:
    """`check`, then create the directory. Under overwrite the old one is moved aside (`previous`), not
    deleted: `restore_previous` puts it back if the new run fails before it starts, `discard_previous`
    deletes it once the new run has started."""
    check(path, overwrite, resume)
    path = Path(path)
    if overwrite and not resume and path.is_dir() and any(path.iterdir()):
        aside = previous(path)
        if aside.exists():
            raise UserError(f"output_dir: {str(aside)!r} holds a run an earlier --overwrite replaced and never "
                            f"restored; move it back to {str(path)!r} or delete it, then run again")
        path.rename(aside)
    path.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        take_lock(path)
    return path


_HELD: set[Path] = set()  # the locks this process took


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), so that a reused pid is not taken for
    the run that held a lock; None where /proc is not there."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process cannot be checked from here: taken as running
    pid = int(holder.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    started = holder.get("started")
    return started is None or started == _process_start(pid)


def lock_holder(path: str | Path) -> str | None:
    """'process PID on HOST (COMMAND)' while a live process holds the run folder's lock; None when there is no
    lock, or its process is gone (a stale lock, taken over by the next run)."""
    try:
        holder = json.loads((Path(path) / LOCK).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict) or not _alive(holder):
        return None
    return f"process {holder.get('pid')} on {holder.get('host')} ({holder.get('command', '?')})"


def take_lock(path: str | Path) -> None:
    """Hold the run folder: run.lock names this process until `release_lock`. A lock whose process is gone is
    taken over; a live one is refused (one line)."""
    lock = Path(path) / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _process_start(os.getpid()),
          "command": " ".join(["hf-transfer" if sys.argv[0].endswith("hf-transfer") else Path(sys.argv[0]).name,
                               *sys.argv[1:]])[:200]}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = lock_holder(path)
            if holder:
                raise UserError(f"output_dir: {str(path)!r} is in use by {holder}; wait for that run to end") from None
            logging.getLogger("hf_transfer").warning("%s: taking over a stale lock (its process is gone)", lock)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me))
        _HELD.add(lock.absolute())
        return
    raise UserError(f"output_dir: could not take the lock {lock}")


def release_lock(path: str | Path) -> None:
    """Remove run.lock if this process took it (`take_lock`)."""
    lock = (Path(path) / LOCK).absolute()
    if lock in _HELD:
        _HELD.discard(lock)
        lock.unlink(missing_ok=True)


def restore_previous(path: str | Path) -> bool:
    """The new run failed before it started: put the run it replaced back. True if there was one."""
    path, aside = Path(path), previous(path)
    if not aside.is_dir():
        return False
    if path.exists():
        shutil.rmtree(path)
    aside.rename(path)
    return True


def discard_previous(path: str | Path) -> None:
    """The new run has started: the run it replaced is gone for good."""
    shutil.rmtree(previous(path), ignore_errors=True)


def checkpoints(path: str | Path, complete_only: bool = True) -> list[Path]:
    """Step checkpoints, oldest first: only the complete ones (see `is_complete`) unless asked."""
    root = Path(path) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(STEP_PREFIX)
             and p.name[len(STEP_PREFIX):].isdigit()]
    found = [p for p in found if not complete_only or is_complete(p)]
    return sorted(found, key=lambda p: int(p.name[len(STEP_PREFIX):]))


def latest_checkpoint(path: str | Path) -> Path | None:
    """The newest complete checkpoint."""
    found = checkpoints(path)
    return found[-1] if found else None


def incomplete_checkpoints(path: str | Path) -> list[Path]:
    """Checkpoints cut short while they were written (by an earlier version, or a file system that lost
    the rename): `--resume` skips them."""
    return [p for p in checkpoints(path, complete_only=False) if not is_complete(p)]


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint whose trainer_state.json (written last, before the rename into place) is there."""
    return (checkpoint / "trainer_state.json").is_file()


def writing(final: Path) -> Path:
    """The temporary folder a checkpoint or model is written into before `put_in_place` renames it."""
    return final.parent / f".writing-{final.name}"


def put_in_place(tmp: Path, final: Path) -> None:
    """Rename a completely written folder to its final name, replacing what was there."""
    old = final.parent / f".old-{final.name}"
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def checkpoint_dir(path: str | Path, step: int) -> Path:
    return Path(path) / CHECKPOINTS / f"{STEP_PREFIX}{step:08d}"


@contextmanager
def written_whole(final: Path):
    """`with written_whole(out / MODEL) as tmp:` write into tmp; it replaces `final` only when the block
    ends without an error, so a crash never leaves half a model (or checkpoint) under the final name."""
    tmp = writing(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with os_errors():
            yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    put_in_place(tmp, final)


@contextmanager
def os_errors():
    """safetensors reports the file system's refusals (a full disk: 'I/O error: No space left on device (os error
    28)') as SafetensorError; inside this block they are the OSError they are, so a full disk is one line."""
    from safetensors import SafetensorError

    try:
        yield
    except SafetensorError as e:
        code = re.search(r"os error (\d+)", str(e))
        if code is None:
            raise
        raise OSError(int(code.group(1)), os.strerror(int(code.group(1)))) from e


def prune(path: str | Path, keep: int) -> None:
    """Keep the `keep` newest complete checkpoints (never fewer than one) and no incomplete one."""
    for old in checkpoints(path)[:-max(keep, 1)] + incomplete_checkpoints(path):
        shutil.rmtree(old, ignore_errors=True)


def write_metrics(out: Path, payload: dict) -> None:
    tmp = out / (METRICS + ".tmp")
    tmp.write_text(strict_json(payload))
    tmp.replace(out / METRICS)


def save_predictions(path: Path, logits: dict, stored=None) -> None:
    """predictions.npz: per eval set, the prediction (`NAME`) and the label (`NAME.labels`) of every row, in the
    set's order (rows pair across runs of one seed: a paired bootstrap over test rows reads them). `stored(outputs,
    labels)` gives both as the task keeps them (default: the predicted class and the class id)."""
    import numpy as np

    arrays = {}
    for name, (scores, labels) in logits.items():
        if stored is not None:
            arrays[name], arrays[f"{name}.labels"] = stored(scores, labels)
        else:
            arrays[name] = np.asarray(scores).argmax(-1).astype(np.int32)
            arrays[f"{name}.labels"] = np.asarray(labels).astype(np.int32)
    np.savez_compressed(path, **arrays)


def load_predictions(run_dir: Path, name: str):
    """(predicted, labels) of eval set `name` from a run's predictions.npz, or None (an older run, another set)."""
    import numpy as np

    path = Path(run_dir) / PREDICTIONS
    if not path.is_file():
        return None
    with np.load(path) as saved:
        return (saved[name], saved[f"{name}.labels"]) if name in saved.files else None


def save_features(path: Path, features: dict, domains: dict, seed: int, per_domain: int = 500) -> None:
    """Features of the source and target test sets (at most `per_domain` each), for the report's embedding."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays = {}
    for domain, name in domains.items():
        x, y = features[name]
        keep = np.sort(rng.permutation(len(x))[:per_domain])
        arrays[f"{domain}_features"], arrays[f"{domain}_labels"] = x[keep].astype(np.float32), y[keep]
    np.savez_compressed(path, **arrays)
