"""Plumbing, taught nowhere: a later lesson imports an earlier lesson's code by the lesson's name.

A lesson file's name starts with a digit (``07_simple_llm.py``), so ``import`` cannot name it;
``lesson("07_simple_llm")`` imports it once and returns the module, e.g. ``GPT = lesson("07_simple_llm").GPT``.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from common import ROOT


def lesson(name: str) -> ModuleType:
    """The module of ``<name>.py`` in the repository's root (imported the first time it is asked for)."""
    if name in sys.modules:
        return sys.modules[name]
    path = ROOT / f"{name}.py"
    if not path.is_file():  # SystemExit, not UserError: this happens as a lesson starts, before run() is there
        raise SystemExit(f"error: {path.name} is missing from {path.parent}: the lessons import each other's "
                         "code, so keep all the lesson files together")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, so its dataclasses and type hints can find it
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
