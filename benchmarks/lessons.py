"""Benchmarks measure the lessons' own code, so they import lesson files (names that start with a digit)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.lessons import lesson as load_lesson  # noqa: E402,F401  (after the path is set)
