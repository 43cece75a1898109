"""Benchmarks measure the lessons' own code, so they import lesson files (names that start with a digit)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_lesson(stem: str):
    """Import ``<stem>.py`` from the repository root as a module."""
    spec = importlib.util.spec_from_file_location(f"lesson_{stem[:2]}", ROOT / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
