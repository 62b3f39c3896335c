"""What every kind of run shares (the training loop, the fitted baselines, the post-hoc adjustments):
the accelerator, the process-wide numeric switches, evaluation of the eval sets, the environment and
memory records, the run's log file and metrics.json."""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import DataLoaderConfiguration, send_to_device
from tqdm.auto import tqdm

from .. import run_folder
from ..config import TrainConfig
from ..metrics import classification_metrics

log = logging.getLogger("hf_transfer")


@torch.no_grad()
def evaluate_sets(model, loaders: dict, accelerator: Accelerator, label_names: list[str],
                  feature_sets: tuple = (), prepare=None, logits_out: dict | None = None) -> tuple[dict, dict]:
    """(metrics of every eval set, {name: (features, labels)} of `feature_sets`); predictions are
    gathered across processes, each sample once. `logits_out`, when given, receives {name: (logits, labels)}
    of every set (numpy), for calibration."""
    model.eval()
    results, features = {}, {}
    for name, dl in loaders.items():
        preds, refs, losses, feats, kept = [], [], [], [], []
        for batch in tqdm(dl, desc=f"eval {name}", leave=False, disable=not accelerator.is_local_main_process):
            batch = send_to_device(batch, accelerator.device)  # a no-op for a loader accelerate prepared
            batch = prepare(batch, False) if prepare is not None else batch
            if name in feature_sets:
                logits, f = model(batch, return_features=True)
                feats.append(accelerator.gather_for_metrics(f.float()).cpu())
            else:
                logits = model(batch)
            loss = F.cross_entropy(logits.float(), batch["labels"], reduction="none")
            p, r, per_sample = accelerator.gather_for_metrics((logits.argmax(-1), batch["labels"], loss))
            if logits_out is not None:
                kept.append(accelerator.gather_for_metrics(logits.float()).cpu())
            preds.append(p.cpu())
            refs.append(r.cpu())
            losses.append(per_sample.float().cpu())
        metrics = classification_metrics(torch.cat(preds).tolist(), torch.cat(refs).tolist(), label_names)
        metrics["loss"] = float(torch.cat(losses).mean())
        results[name] = metrics
        if logits_out is not None:
            logits_out[name] = (torch.cat(kept).numpy(), torch.cat(refs).numpy())
        if feats:
            features[name] = (torch.cat(feats).numpy(), torch.cat(refs).numpy())
    model.train()
    return results, features


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


def environment(accelerator: Accelerator) -> dict:
    return environment_info(accelerator.device, accelerator.num_processes, accelerator.mixed_precision)


def environment_info(device: torch.device, num_processes: int = 1, mixed_precision: str = "no") -> dict:
    import accelerate
    import datasets
    import timm
    import transformers

    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or device.type,
        "device_type": device.type,
        "num_processes": num_processes,
        "mixed_precision": mixed_precision,
        "python": platform.python_version(),
        "torch": torch.__version__, "timm": timm.__version__, "transformers": transformers.__version__,
        "accelerate": accelerate.__version__, "datasets": datasets.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def close_log_file() -> None:
    for h in list(log.handlers):
        if getattr(h, "_hf_transfer", False):
            log.removeHandler(h)
            h.close()


def setup_logging(out: Path, main: bool) -> None:
    log.setLevel(logging.INFO)
    close_log_file()
    if main:
        handler = logging.FileHandler(out / run_folder.LOG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler._hf_transfer = True
        log.addHandler(handler)


def peak_host_memory_mb() -> float | None:
    """The process's peak resident memory (so it includes whatever ran before in it); None on Windows."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def fresh_accelerator(**kwargs) -> Accelerator:
    """An Accelerator for one run. accelerate keeps precision and accumulation in process-wide singletons; a
    recipe of several runs (or a test session) may change them between runs, so they are reset (the process
    group, PartialState, is kept)."""
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    # several processes on a machine without CUDA (accelerate launch --multi_gpu, i.e. torchrun): gloo on CPU
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    return Accelerator(cpu=multi_cpu, dataloader_config=DataLoaderConfiguration(non_blocking=torch.cuda.is_available()),
                       **kwargs)


def set_numerics(t: TrainConfig, device: torch.device) -> None:
    """The process-wide numeric switches of a run (TF32, cuDNN autotuning, deterministic kernels), set for
    every run so that one run does not inherit another's; the fitted baselines use them too, so that their
    features are computed as a fine-tuning run of the same config computes them."""
    if t.deterministic:  # cuBLAS reads this when it first starts in the process
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(t.deterministic, warn_only=True)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = t.tf32 and not t.deterministic
        torch.backends.cudnn.benchmark = not t.deterministic
        torch.backends.cudnn.deterministic = t.deterministic
