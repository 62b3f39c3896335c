"""The machine a run uses and says it used: a fresh accelerator, the process-wide numeric switches (TF32,
deterministic kernels, threads), the host's peak memory, and metrics.json's `environment` (device, precision,
processes, library versions)."""

from __future__ import annotations

import os
import platform
import sys

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import DataLoaderConfiguration

from ..config import TrainConfig


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
