"""Plumbing, taught nowhere: safe checkpoint files - atomic saving, loading without unpickling, checks.

The networks that 04 saves are rebuilt by 04's ``build_model``, the GPT by 09's ``load_gpt``.

A checkpoint is a plain dictionary of tensors, numbers, strings and lists - nothing else - so it can be
loaded with ``torch.load(..., weights_only=True)``, which refuses any pickled object instead of running
code hidden in it.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from common import MODELS_DIR, UserError
from common.data import DATASETS
from common.records import check_history, check_replaceable, is_finite_number, kept_epoch, save_torch
from common.text import SHAKESPEARE

CHECKPOINT_FORMAT = "nn-tutorial-net/2"  # lesson 04's networks; architecture["kind"] says "mlp" or "cnn"
LEGACY_FORMATS = ("nn-tutorial-mlp/1",)  # written before the CNN existed: always an MLP, no "kind"
GPT_FORMAT = "nn-tutorial-gpt/2"  # lesson 08's GPT; /2: the tokenizer stored as plain data, scores in bits per char
DEFAULT_GPT_CHECKPOINT = MODELS_DIR / f"08_gpt_{SHAKESPEARE.stem}.pt"  # what lesson 08 writes by default
CHECKPOINT_KEYS = ("format", "state_dict", "architecture", "normalisation", "class_names", "dataset",
                   "input_shape", "hyperparameters", "history", "test_metrics")


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, foreign or unsafe."""


def save_checkpoint(path: Path, checkpoint: dict) -> None:
    """Write atomically: a crash or Ctrl-C mid-write leaves any earlier checkpoint as it was."""
    missing = set(CHECKPOINT_KEYS) - set(checkpoint)
    if missing:
        raise ValueError(f"checkpoint lacks {sorted(missing)}")
    save_torch(path, checkpoint)


def newest_checkpoint(folder: Path = MODELS_DIR) -> Path | None:
    """The most recent checkpoint of lesson 04 (08's language models live in the same folder)."""
    candidates = sorted(Path(folder).glob("04_*.pt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


def safe_torch_load(path: Path, fmt: str | tuple[str, ...], writer: str) -> dict:
    """Load a checkpoint without unpickling objects and check its ``format`` is ``fmt`` (or one of them)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for foreign, truncated or unsafe files
        if "global" in str(error).lower():  # "Unsupported global" / "unsupported GLOBAL": a pickled object
            reason = "it holds pickled Python objects, which could run code; refusing to load it"
        else:  # torch's own text is long, and may advise weights_only=False, which would run what the file holds
            reason = "its bytes are not a PyTorch checkpoint: truncated, or another kind of file"
        raise CheckpointError(f"{path}: not a usable checkpoint ({reason})") from None
    formats = (fmt,) if isinstance(fmt, str) else fmt
    if not isinstance(checkpoint, dict) or checkpoint.get("format") not in formats:
        raise CheckpointError(f"{path}: not a checkpoint written by {writer}")
    return checkpoint


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint of 04 safely (no unpickling of objects) and check what it claims before anyone uses it."""
    checkpoint = safe_torch_load(path, (CHECKPOINT_FORMAT, *LEGACY_FORMATS), "04_neural_network_training.py")
    missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    try:
        check_checkpoint(checkpoint)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise CheckpointError(f"{path}: checkpoint does not describe a usable model ({error})") from None
    return checkpoint


def check_checkpoint(checkpoint: dict) -> None:
    """Raise ValueError naming the first field of a 04 checkpoint that 05 or 06 could not use as it is."""
    arch = checkpoint["architecture"]
    if not isinstance(arch, dict):
        raise ValueError("architecture is not a description")
    shape = checkpoint["input_shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(n, int) and n > 0 for n in shape)):
        raise ValueError("input_shape is not [height, width]")
    names = checkpoint["class_names"]
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)):
        raise ValueError("class_names is not a list of names")
    if checkpoint["dataset"] not in DATASETS:
        raise ValueError(f"dataset is not one of {', '.join(DATASETS)}")
    norm = checkpoint["normalisation"]
    if not (is_finite_number(norm["mean"]) and is_finite_number(norm["std"]) and norm["std"] > 0):
        raise ValueError("normalisation needs a finite mean and a positive std")
    check_history(checkpoint["history"])
    if not is_finite_number(checkpoint["test_metrics"]["accuracy"]):
        raise ValueError("test_metrics has no accuracy")
    seed = checkpoint["hyperparameters"]["seed"]
    if not (isinstance(seed, int) and 0 <= seed < 2**32):
        raise ValueError("hyperparameters has no usable seed")
    if not all(torch.is_tensor(t) and (not t.is_floating_point() or bool(t.isfinite().all()))
               for t in checkpoint["state_dict"].values()):
        raise ValueError("its weights are not all finite numbers")


def replaceable(path: Path, lesson: str, load: Callable[[Path], dict]) -> dict | None:
    """The checkpoint at ``path`` that ``lesson`` is about to replace, loaded with ``load``, or None if there is
    none. Anything that is not that lesson's (or a corrupt file) is refused in one line, before any training."""
    check_replaceable(path, lesson)
    if not path.exists():
        return None
    try:
        return load(path)
    except CheckpointError as error:
        raise UserError(f"{error}; refusing to replace it (choose another --out)") from None


def previous_model(path: Path, dataset: str, overwrite: bool) -> dict | None:
    """The validation figures of the 04 checkpoint ``path`` holds now, if any; anything not 04's is refused,
    and so is a model of another data set unless ``overwrite``."""
    old = replaceable(path, "04", load_checkpoint)
    if old is None:
        return None
    if old["dataset"] != dataset:  # its scores do not compare with this run's
        if not overwrite:
            raise UserError(f"{path} holds a model of {old['dataset']}, not {dataset}; refusing to replace it "
                            "(choose another --out, or --overwrite)")
        return None
    return kept_epoch(old)


def save_gpt(path: Path, model, tokenizer, **extra) -> None:
    """Lesson 08's GPT: tensors, the config, the tokenizer as plain data (its characters or its merges) and
    plain values only; written atomically."""
    checkpoint = {"format": GPT_FORMAT, "config": asdict(model.config), "tokenizer": tokenizer.to_dict(),
                  "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra}
    save_torch(path, checkpoint)


def previous_best(path: Path, text_sha: str) -> float:
    """The validation bits per character of an earlier checkpoint of lesson 08 at ``path`` for the same text,
    or infinity. Another text's model, or anything that is not 08's, is refused (``replaceable``).
    """
    old = replaceable(path, "08", lambda p: safe_torch_load(p, GPT_FORMAT, "08_train_llm.py"))
    if old is None:
        return math.inf
    if old.get("text_sha256") != text_sha:
        raise UserError(f"{path} holds a model of another text ({old.get('text')}); refusing to replace it "
                        "(choose another --out)")
    best = old.get("best_val_bpc")
    return best if isinstance(best, float) and math.isfinite(best) else math.inf  # no valid score: nothing to keep
