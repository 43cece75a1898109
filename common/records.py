"""Writing results to disk safely, and the JSON record every training run leaves.

A file is never written in place: it is written to a temporary file in the
same folder and then renamed over the target. A rename is atomic, so a crash
or Ctrl-C half-way leaves either the old file or the new one, never a mix.

The JSON record (same name as the checkpoint, ``.json``) is what lessons 03
and 04 both write and lesson 05 and the benchmarks read::

    {"dataset": "digits", "layer_sizes": [64, 128, 10], "hyperparameters": {...},
     "history": [{"epoch": 1, "train_loss": ..., "val_loss": ..., "val_accuracy": ..., "seconds": ...}, ...],
     "test_accuracy": 0.97}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Callable

from common import UserError

HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "seconds")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_writable(path: Path) -> None:
    """Fail now, in one line, if ``path`` could not be written later: before a long run, not after it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; name a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def write_record(path: Path, record: dict) -> None:
    """Write the run's JSON record atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))


def read_record(path: Path) -> dict:
    """Read a JSON record and check it has a usable history."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        record = json.loads(path.read_text())
        history = record["history"]
        if not history or any(set(HISTORY_KEYS) - set(entry) for entry in history):
            raise ValueError("history lacks " + ", ".join(HISTORY_KEYS))
        if not all(isinstance(e[k], (int, float)) and math.isfinite(e[k]) for e in history for k in HISTORY_KEYS):
            raise ValueError("history holds values that are not finite numbers")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a training record ({error})") from None
    return record
