"""Writing results to disk safely, and the JSON record every training run leaves. Plumbing: no lesson teaches
it (lesson 04 says in a comment why its checkpoint is written atomically).

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

import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Callable

from common import UserError

HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "seconds")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path``.

    A full disk or a file the user may not replace is one line (a UserError) and ``path`` stays as it was.
    """
    path = Path(path)
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise UserError(cannot_write(path, error, existed)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it private (0600); the user expects the usual mode
        os.replace(tmp, path)
    except OSError as error:
        raise UserError(cannot_write(path, error, existed)) from None
    finally:
        tmp.unlink(missing_ok=True)


def cannot_write(path: Path, error: OSError, existed: bool) -> str:
    why = "the disk is full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else error.strerror or str(error)
    return f"cannot write {path}: {why}; " + ("the file there is as it was" if existed else "nothing was written")


def save_torch(path: Path, checkpoint: dict) -> None:
    """``torch.save``, atomically. The bytes are made in memory first, so that a failed write (a full disk) is
    Python's OSError, which names its cause; torch's own writer reports it as an unexplained RuntimeError."""
    import io

    import torch  # here, not at the top: lesson 03 writes records without PyTorch

    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


def current_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it, so set it straight back
    os.umask(mask)
    return mask


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


def check_replaceable(path: Path, lesson: str) -> None:
    """Before a long run: can ``path`` and its JSON record be written, and is an existing record this lesson's?

    A record of another lesson, or one that is no JSON at all, belongs to something else: refused in one line,
    so a run never replaces what it does not recognise.
    """
    record = Path(path).with_suffix(".json")
    for target in dict.fromkeys((Path(path), record)):
        check_writable(target)
    if record.exists():
        try:
            ours = json.loads(record.read_text()).get("lesson", lesson) == lesson
        except (ValueError, UnicodeDecodeError, AttributeError):
            ours = False
        if not ours:
            raise UserError(f"{record} is not a record of lesson {lesson}; refusing to replace it "
                            "(move it away, or write elsewhere)")


def write_record(path: Path, record: dict) -> None:
    """Write the run's JSON record atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))


def save_npz(json_path: Path, arrays: dict, record: dict) -> Path:
    """Lesson 03's parameters with np.savez (plain arrays, no pickle) beside ``json_path``, and the record there."""
    import numpy as np  # here, not at the top: the other helpers need no NumPy

    npz_path = json_path.with_suffix(".npz")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(npz_path, write)
    write_record(json_path, record)
    print(f"   saved {npz_path.relative_to(npz_path.parent.parent)} and {json_path.name}")
    return npz_path


def kept_epoch(record: dict) -> dict:
    """The history entry whose weights were saved: 04's best epoch, or the last one (03)."""
    history = record["history"]
    return next((h for h in history if h["epoch"] == record.get("best_epoch")), history[-1])


def check_history(history) -> None:
    """A usable history: a non-empty list of epochs, each with finite numbers under HISTORY_KEYS."""
    if not isinstance(history, list) or not history or not all(isinstance(entry, dict) for entry in history):
        raise ValueError("its history is not a list of epochs")
    if any(set(HISTORY_KEYS) - set(entry) for entry in history):
        raise ValueError("history lacks " + ", ".join(HISTORY_KEYS))
    if not all(is_finite_number(e[k]) for e in history for k in HISTORY_KEYS):
        raise ValueError("history holds values that are not finite numbers")


def is_finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_record(path: Path) -> dict:
    """Read a JSON record and check it names its data set and has a usable history."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        if not isinstance(record.get("dataset"), str):
            raise ValueError("it names no data set")
        check_history(record.get("history"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a training record ({error})") from None
    return record
