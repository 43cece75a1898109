"""Shared test helpers: import a lesson script as a module, run one as a learner would."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_lesson(stem: str):
    """Import ``<stem>.py`` from the repository root (lesson names start with digits, so no plain import)."""
    if stem in sys.modules:
        return sys.modules[stem]
    spec = importlib.util.spec_from_file_location(stem, ROOT / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    spec.loader.exec_module(module)
    return module


def run_script(script: str, *args: str, out: Path | None = None, cwd: Path = ROOT, timeout: float = 300,
               launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run a lesson headless, the way CI does, and capture what it prints.

    ``out`` is where the run writes figures/ and models/ (a test's tmp_path; by default a fresh
    temporary folder), never the repository's. ``launcher``: arguments to Python before the script,
    e.g. ``("-m", "torch.distributed.run", ...)`` to start it under torchrun.
    """
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    env["NN_TUTORIAL_OUTPUT"] = str(out or tempfile.mkdtemp(prefix="nn-tutorial-test-"))
    return subprocess.run([sys.executable, *launcher, str(ROOT / script), *args, "--no-show"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A user error: non-zero exit, no traceback, a short message naming the problem."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    message = result.stderr.strip().splitlines()
    assert message, "no error message on stderr"
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture(scope="session")
def lesson():
    return load_lesson
