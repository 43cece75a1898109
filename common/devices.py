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


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """auto: bfloat16 on a GPU that supports it, else float32. float16 needs CUDA, where its GradScaler runs."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    if name == "float16" and device.type != "cuda":
        raise UserError(f"--dtype float16 needs a CUDA GPU, and this run is on {device.type}: "
                        "use float32 or bfloat16")
    return getattr(torch, name)


def check_step_fits(config, batch_size: int) -> None:
    """Before lesson 08 makes a batch: one training step's activations. For each of its batch x block tokens
    about 20 numbers of width n_embd per block are kept for the backward pass, and three per logit."""
    per_token = 4 * (20 * config.n_embd * config.n_layer + 3 * config.vocab_size) + 16
    check_memory(batch_size * config.block_size * per_token,
                 f"--batch-size {batch_size} x --block-size {config.block_size}: one training step needs")
