"""Where a PyTorch model runs and whether it fits in memory. Plumbing: no lesson teaches it."""

from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn

from common import UserError
from common.cli import check_memory


def check_fits(build: Callable[[], nn.Module], what: str) -> None:
    """Before building a model: check on PyTorch's "meta" device (shapes only, no memory) that training it fits.

    Training holds four float32 numbers per parameter: the weight, its gradient and Adam's two moments.
    """
    with torch.device("meta"):
        parameters = sum(p.numel() for p in build().parameters())
    check_memory(16 * parameters, f"{what}: {parameters:,} parameters need, to train,")


def use_cpu_cores() -> int:
    """One PyTorch thread per core this process may use; return that number.

    PyTorch counts the machine's cores, but a container or ``taskset`` may
    allow fewer, and more threads than cores make every matrix product wait.
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(max(1, min(torch.get_num_threads(), usable)))
    return torch.get_num_threads()


def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA, then Apple's MPS, then the CPU; an explicit choice must exist."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if name == "auto":
        name = next(d for d in ("cuda", "mps", "cpu") if available[d])
    if not available[name]:
        raise UserError(f"--device {name}: not available on this machine (try --device cpu)")
    return torch.device(name)
