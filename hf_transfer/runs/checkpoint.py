"""Resumable checkpoints that load without unpickling anything.

accelerate's `save_state` writes pickles (optimizer.bin, random_states_0.pkl, custom_checkpoint_0.pkl
for the scheduler) and `load_state` reads them with `torch.load(weights_only=False)`: a run folder
from elsewhere (a shared checkpoint, a downloaded experiment) could run code on `--resume`. Here every
piece is a tensor file (safetensors, which holds only numbers) or JSON:

    model.safetensors           the model's weights
    optimizer.safetensors       the optimizer's per-parameter state tensors, keyed "<param index>/<name>"
    optimizer.json              its param groups and the state's plain numbers
    scheduler.json              the LR scheduler's state (plain numbers; the schedule itself is rebuilt from the config)
    scaler.json                 the fp16 gradient scaler's state, when there is one
    rng_<rank>.safetensors      torch's CPU / CUDA and NumPy's generator states; Python's in its metadata
    trainer_state.json          the loop's state, written last by the caller (it marks the checkpoint complete)

`load` refuses (one line) a checkpoint holding any other file, such as an older version's pickles.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from ..errors import UserError

MODEL, OPTIMIZER, OPTIMIZER_JSON, SCHEDULER, SCALER = (
    "model.safetensors", "optimizer.safetensors", "optimizer.json", "scheduler.json", "scaler.json")
STATE = "trainer_state.json"


def rng_file(rank: int) -> str:
    return f"rng_{rank}.safetensors"


def _known(name: str) -> bool:
    return name in (MODEL, OPTIMIZER, OPTIMIZER_JSON, SCHEDULER, SCALER, STATE) or (
        name.startswith("rng_") and name.endswith(".safetensors") and name[4:-12].isdigit())


def save(folder: Path, accelerator, model, optimizer, scheduler) -> None:
    """Write the state of every process into `folder` (made by the caller); the main process writes the
    shared parts, each process its own RNG states."""
    if accelerator.is_main_process:
        save_model(accelerator.unwrap_model(model), str(folder / MODEL))
        tensors, plain = _optimizer_state(optimizer.state_dict())
        save_file(tensors, str(folder / OPTIMIZER))
        (folder / OPTIMIZER_JSON).write_text(json.dumps(plain))
        (folder / SCHEDULER).write_text(json.dumps(scheduler.state_dict()))
        if accelerator.scaler is not None:
            (folder / SCALER).write_text(json.dumps(accelerator.scaler.state_dict()))
    tensors, python_state = _rng_state()
    save_file(tensors, str(folder / rng_file(accelerator.process_index)),
              metadata={"python": json.dumps(python_state), "accelerator_step": str(accelerator.step)})


def load(folder: Path, accelerator, model, optimizer, scheduler) -> dict:
    """Restore what `save` wrote and return the loop's state (trainer_state.json); a file that is not one of
    ours, or one that does not parse, is refused in one line and nothing of it is executed."""
    strangers = sorted(p.name for p in folder.iterdir() if not _known(p.name))
    if strangers:
        raise UserError(f"--resume: {folder} holds {', '.join(strangers)}, which hf-transfer does not load (a pickle "
                        "can run code; checkpoints are safetensors and JSON only); a checkpoint written by an older "
                        "version cannot be resumed: start the run again with --overwrite")
    try:
        load_model(accelerator.unwrap_model(model), str(folder / MODEL), device=str(accelerator.device))
        tensors = load_file(str(folder / OPTIMIZER))
        plain = json.loads((folder / OPTIMIZER_JSON).read_text())
        optimizer.load_state_dict(_optimizer_from(tensors, plain))
        scheduler.load_state_dict(json.loads((folder / SCHEDULER).read_text()))
        if accelerator.scaler is not None:
            accelerator.scaler.load_state_dict(json.loads((folder / SCALER).read_text()))
        _set_rng_state(folder / rng_file(accelerator.process_index), accelerator)
        state = json.loads((folder / STATE).read_text())
        if not isinstance(state, dict):
            raise ValueError(f"{STATE} holds no object")
        return state
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"--resume: {folder.name} cannot be loaded ({type(e).__name__}: {reason}); it is damaged or "
                        "was not written by hf-transfer") from None


def _optimizer_state(state: dict) -> tuple[dict, dict]:
    """(tensors, JSON-able rest) of an optimizer's state_dict."""
    tensors, numbers = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}/{name}"] = value.detach().contiguous().cpu()
            else:
                numbers[f"{index}/{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "numbers": numbers}


def _optimizer_from(tensors: dict, plain: dict) -> dict:
    state: dict = {}
    for key, value in [*tensors.items(), *plain["numbers"].items()]:
        index, name = key.split("/", 1)
        state.setdefault(int(index), {})[name] = value
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in plain["param_groups"]]
    return {"state": state, "param_groups": groups}


def _rng_state() -> tuple[dict, list]:
    """({name: tensor}, Python's state as JSON) of every generator a run draws from."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
               "numpy_rest": torch.tensor([pos, has_gauss], dtype=torch.int64),
               "numpy_gauss": torch.tensor([gauss], dtype=torch.float64)}
    if torch.cuda.is_available():
        tensors.update({f"cuda_{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    version, internal, gauss_next = random.getstate()
    return tensors, [version, list(internal), gauss_next]


def _set_rng_state(path: Path, accelerator) -> None:
    with safe_open(str(path), "pt") as f:  # tensors and metadata in one read
        header, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    version, internal, gauss_next = json.loads(header["python"])
    random.setstate((version, tuple(internal), gauss_next))
    pos, has_gauss = tensors["numpy_rest"].tolist()
    np.random.set_state(("MT19937", tensors["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss,
                         float(tensors["numpy_gauss"][0])))
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("cuda_")), key=lambda k: int(k[5:]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    accelerator.step = int(header["accelerator_step"])
