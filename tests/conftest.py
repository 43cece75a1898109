"""Shared test helpers: import a lesson script as a module, run one as a learner would.

Two tiers. ``python -m pytest -q`` runs the quick one: the lessons' code, in-process, and one short
run per lesson. Tests marked ``slow`` (whole runs over seeds, torchrun, a real uvicorn, load tests,
fuzzing, Ctrl-C) run with ``python -m pytest -q -m slow``; CI runs both.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Lessons imported in-process write their figures and models here, never into the repository; and
# hypothesis keeps its example database here instead of in a .hypothesis folder of the repository.
SCRATCH = Path(tempfile.mkdtemp(prefix="nn-tutorial-tests-"))
os.environ["NN_TUTORIAL_OUTPUT"] = str(SCRATCH)
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(SCRATCH / "hypothesis")


def load_lesson(stem: str):
    """Import ``<stem>.py`` from the repository root (lesson names start with digits, so no plain import)."""
    from common.lessons import lesson

    return lesson(stem)


def run_script(script: str, *args: str, out: Path | None = None, cwd: Path = ROOT, timeout: float = 300,
               launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run a lesson headless, the way CI does, and capture what it prints.

    ``out`` is where the run writes figures/ and models/ (a test's tmp_path; by default a fresh
    temporary folder), never the repository's. ``launcher``: arguments to Python before the script,
    e.g. ``("-m", "torch.distributed.run", ...)`` to start it under torchrun.

    The child runs in a session of its own, and is killed with everything it started the moment this
    call ends early, on a timeout or on Ctrl-C: pytest then stops at once and prints its summary.
    """
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    env["NN_TUTORIAL_OUTPUT"] = str(out or tempfile.mkdtemp(prefix="nn-tutorial-test-"))
    command = [sys.executable, *launcher, str(ROOT / script), *args, "--no-show"]
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except BaseException:  # the timeout, or Ctrl-C: stop the child's whole group, do not wait for it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise
    return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


def run_in_process(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a lesson's command line inside this process: for what ends before any work (--help, a bad flag).

    The same ``main`` and the same one-line errors as ``run_script``, without starting Python again.
    """
    from common.cli import run

    module = load_lesson(Path(script).stem)
    stdout, stderr = io.StringIO(), io.StringIO()
    argv, columns = sys.argv, os.environ.get("COLUMNS")
    sys.argv, os.environ["COLUMNS"] = [script, *args, "--no-show"], "80"  # argparse wraps help at COLUMNS
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            run(module.main)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.argv = argv
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return subprocess.CompletedProcess([script, *args], code, stdout.getvalue(), stderr.getvalue())


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


PATTERN = "the cat sat on the mat. the dog sat on the log. "


@pytest.fixture(scope="module")
def small_text(tmp_path_factory) -> Path:
    """A small text to train lessons 07 and 08 on, with words that repeat."""
    path = tmp_path_factory.mktemp("text") / "small.txt"
    path.write_text(PATTERN * 120)
    return path


VOCAB = "\n !,.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A small random model of lessons 09 and 10 with a real vocabulary, saved as lesson 08 would."""
    import torch

    GPT, GPTConfig = load_lesson("07_simple_llm").GPT, load_lesson("07_simple_llm").GPTConfig
    from common.checkpoints import save_gpt
    CharTokenizer = load_lesson("07_simple_llm").CharTokenizer

    torch.manual_seed(0)
    model = GPT(GPTConfig(len(VOCAB), block_size=32, n_layer=2, n_head=2, n_embd=32))
    path = tmp_path_factory.mktemp("models") / "08_gpt_test.pt"
    save_gpt(path, model, CharTokenizer(VOCAB), best_val_bpc=2.0, text="test.txt")
    return path


@pytest.fixture(scope="module")
def bpe_checkpoint(tmp_path_factory) -> Path:
    """A BPE model trained by lesson 08 on a text full of emoji, so that it writes them, a few tokens each."""
    import random

    folder = tmp_path_factory.mktemp("bpe")
    rng = random.Random(0)
    (folder / "emoji.txt").write_text(" ".join(rng.choice(["to", "be", "🙂", "🙃", "é"]) for _ in range(3000)))
    result = run_script("08_train_llm.py", "--text", str(folder / "emoji.txt"), "--tokenizer", "bpe", "--vocab-size",
                        "262", "--block-size", "32", "--batch-size", "16", "--n-embd", "32", "--n-layer", "1",
                        "--n-head", "2", "--warmup-iters", "10", "--max-iters", "200", "--eval-interval", "100",
                        out=folder)
    assert result.returncode == 0, result.stderr
    return folder / "models" / "08_gpt_emoji_bpe.pt"
