"""Nothing lost, never a traceback: hostile and unlucky inputs against every script, through subprocess.

For each case: a non-zero exit (or a normal run, where working is the right answer), no traceback, one
clear line, and every file that existed before byte-identical afterwards. Tiny settings, tmp_path only.
Every test here starts Python again, so all of them are in the slow tier (python -m pytest -q -m slow).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, VOCAB, assert_one_line_error, load_lesson, run_script
from PIL import Image
from test_data import write_idx, write_tiny_mnist

from common.checkpoints import CHECKPOINT_FORMAT, save_checkpoint, save_gpt
from common.records import write_record

MLP = load_lesson("04_neural_network_training").MLP
CharTokenizer = load_lesson("07_simple_llm").CharTokenizer
GPT, GPTConfig = load_lesson("07_simple_llm").GPT, load_lesson("07_simple_llm").GPTConfig

pytestmark = pytest.mark.slow

SCRIPTS = ["01_neuron_activation.py", "02_perceptron.py", "03_multilayer_perceptron.py",
           "04_neural_network_training.py", "05_visualize_training.py", "06_neural_network_inference.py",
           "07_simple_llm.py", "08_train_llm.py", "09_use_llm.py", "10_deploy_llm.py"]
TINY_08 = ["--block-size", "16", "--batch-size", "4", "--n-embd", "16", "--n-head", "2", "--n-layer", "1",
           "--warmup-iters", "2"]


def snapshot(folder) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "small.txt"
    path.write_text("the cat sat on the mat. the dog sat on the log. " * 80)
    return path


@pytest.fixture()
def trained_08(tmp_path, text):
    """A small model of lesson 08 and its record, in tmp_path/models."""
    result = run_script("08_train_llm.py", "--text", str(text), *TINY_08, "--max-iters", "20", "--eval-interval",
                        "10", out=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "models" / "08_gpt_small.pt"


def digits_checkpoint(**changes) -> dict:
    """A checkpoint of lesson 04 for the 8x8 digits, untrained, with any field replaced."""
    model = MLP([64, 16, 10])
    epoch = {"epoch": 1, "train_loss": 2.0, "train_accuracy": 0.2, "val_loss": 2.1, "val_accuracy": 0.2,
             "seconds": 0.1}
    return {"format": CHECKPOINT_FORMAT, "state_dict": model.state_dict(), "architecture": model.architecture(),
            "normalisation": {"mean": 0.3, "std": 0.4}, "class_names": list("0123456789"), "dataset": "digits",
            "input_shape": [8, 8], "hyperparameters": {"seed": 0}, "history": [epoch], "best_epoch": 1,
            "test_metrics": {"accuracy": 0.2}, **changes}


# ----------------------------------------------------------------------------- a good model is never replaced


def test_08_never_replaces_a_good_model_with_a_diverged_one(tmp_path, text, trained_08):
    before = snapshot(tmp_path / "models")
    result = run_script("08_train_llm.py", "--text", str(text), *TINY_08, "--max-iters", "3", "--eval-interval",
                        "1", "--warmup-iters", "1", "--lr", "1e30", out=tmp_path)
    assert_one_line_error(result, "smaller --lr", "is as it was")
    assert snapshot(tmp_path / "models") == before


@pytest.mark.parametrize("foreign", ["04 checkpoint", "other text", "junk"])
def test_08_refuses_to_replace_what_it_did_not_write_for_this_text(tmp_path, text, trained_08, foreign):
    target = tmp_path / "target.pt"
    if foreign == "04 checkpoint":
        save_checkpoint(target, digits_checkpoint())
        write_record(target.with_suffix(".json"), {"lesson": "04", "dataset": "digits"})
    elif foreign == "other text":
        other = tmp_path / "other.txt"
        other.write_text("a completely different text, about other things. " * 80)
        assert run_script("08_train_llm.py", "--text", str(other), *TINY_08, "--max-iters", "2", "--out",
                          str(target), out=tmp_path).returncode == 0
    else:
        target.write_text("my notes")
    before = snapshot(tmp_path)
    for extra in ([], ["--overwrite"]):
        result = run_script("08_train_llm.py", "--text", str(text), *TINY_08, "--max-iters", "2", "--out",
                            str(target), *extra, out=tmp_path)
        assert_one_line_error(result, "refusing to replace it")
        assert "training" not in result.stdout.lower() and snapshot(tmp_path) == before


def test_08_after_ctrl_c_the_record_describes_the_checkpoint(tmp_path, text):
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "NN_TUTORIAL_OUTPUT": str(tmp_path)}
    # A shell starts background jobs with SIGINT ignored, and Python then keeps ignoring it: give the child
    # the default, so Ctrl-C reaches it as it does a learner's run, however these tests were started.
    process = subprocess.Popen([sys.executable, str(ROOT / "08_train_llm.py"), "--text", str(text), *TINY_08,
                                "--max-iters", "100000", "--eval-interval", "5", "--no-show"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in process.stdout:
            if "* saved" in line:
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 or "interrupted" in stderr, stderr
    assert "Traceback" not in stderr
    checkpoint = torch.load(tmp_path / "models" / "08_gpt_small.pt", weights_only=True)
    record = json.loads((tmp_path / "models" / "08_gpt_small.json").read_text())
    assert (record["best_step"], record["best_val_loss"]) == (checkpoint["best_step"], checkpoint["best_val_loss"])
    assert record["history"] == checkpoint["history"]


def test_08_stopped_with_ctrl_c_and_resumed_ends_where_an_uninterrupted_run_does(tmp_path, text):
    """--resume: the same final loss (to 1e-6 on the CPU), the same history; a resume with other flags is refused."""
    flags = ["--text", str(text), *TINY_08, "--max-iters", "600", "--eval-interval", "100", "--threads", "1",
             "--dropout", "0.1"]  # dropout: its random generator must be restored too
    whole = run_script("08_train_llm.py", *flags, "--out", str(tmp_path / "whole" / "gpt.pt"), out=tmp_path)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "cut" / "gpt.pt"
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "NN_TUTORIAL_OUTPUT": str(tmp_path)}
    process = subprocess.Popen([sys.executable, str(ROOT / "08_train_llm.py"), *flags, "--out", str(out), "--no-show"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in process.stdout:
            if "step   100" in line:  # the first evaluation: its state is on disk
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert "with --resume to continue from step" in stderr, stderr
    state = out.with_suffix(".resume.pt")
    assert state.is_file()
    before = snapshot(tmp_path / "cut")
    other = run_script("08_train_llm.py", *flags, "--lr", "0.01", "--out", str(out), "--resume", out=tmp_path)
    assert_one_line_error(other, "--lr", "give the flags it was started with")
    assert snapshot(tmp_path / "cut") == before  # refused: every file as it was
    resumed = run_script("08_train_llm.py", *flags, "--out", str(out), "--resume", out=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the interrupted run" in resumed.stdout and not state.exists()  # finished: nothing to resume
    # The records keep the history up to the best model; the printed lines go on to the last step
    ends = [json.loads(path.with_suffix(".json").read_text()) for path in (tmp_path / "whole" / "gpt.pt", out)]
    assert [h["step"] for h in ends[0]["history"]] == [h["step"] for h in ends[1]["history"]]
    for a, b in zip(ends[0]["history"], ends[1]["history"]):
        assert abs(a["val_loss"] - b["val_loss"]) < 1e-6 and abs(a["train_loss"] - b["train_loss"]) < 1e-6, (a, b)
    assert ends[0]["best_val_loss"] == pytest.approx(ends[1]["best_val_loss"], abs=1e-6)
    scores = [re.findall(r"step +(\d+)  bits/char: train (\S+)  val (\S+)", run.stdout) for run in (whole, resumed)]
    assert scores[1][-1][0] == "600" and scores[1] == scores[0][-len(scores[1]):]  # to the last step, as printed


def test_ctrl_c_stops_the_suite_at_once_with_its_summary_and_the_running_lesson_with_it(tmp_path):
    """A learner presses Ctrl-C while a test waits for a lesson's run: pytest stops now and prints its summary."""
    pid_file = tmp_path / "child.pid"
    # The "lesson" starts a process of its own (as torchrun does) and both wait: Ctrl-C must end them both.
    waits = ("import subprocess, sys, time; helper = subprocess.Popen([sys.executable, '-c', 'import time; "
             "time.sleep(600)']); open(sys.argv[1], 'w').write(str(helper.pid)); time.sleep(600)")
    (tmp_path / "test_waits.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from conftest import run_script

        def test_a_long_lesson():
            run_script("01_neuron_activation.py", launcher=("-c", {waits!r}, {str(pid_file)!r}))
    """))
    suite = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_waits.py"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and suite.poll() is None, "the test never started its lesson"
            time.sleep(0.1)
        helper = int(pid_file.read_text())
        pressed = time.monotonic()
        suite.send_signal(signal.SIGINT)
        output, _ = suite.communicate(timeout=30)
    finally:
        suite.kill()
    assert time.monotonic() - pressed < 10, output  # at once, not after the lesson's 600 s
    assert "KeyboardInterrupt" in output and re.search(r"in \d+\.\d+s", output), output  # pytest's summary
    deadline = time.monotonic() + 10
    while running(helper):  # killed with the lesson, not left behind (it may take a moment to be reaped)
        assert time.monotonic() < deadline, "the lesson's own process was left running"
        time.sleep(0.1)


def running(pid: int) -> bool:
    """Is process ``pid`` still running (a zombie, killed but not yet reaped, is not)?"""
    status = Path(f"/proc/{pid}/status")
    if Path("/proc/self").exists():  # Linux: a zombie still answers os.kill
        return status.exists() and "\nState:\tZ" not in status.read_text()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_03_divergence_leaves_the_previous_model_byte_identical(tmp_path):
    assert run_script("03_multilayer_perceptron.py", "--skip-toys", "--epochs", "2", out=tmp_path).returncode == 0
    before = snapshot(tmp_path / "models")
    result = run_script("03_multilayer_perceptron.py", "--skip-toys", "--epochs", "2", "--lr", "1e12", out=tmp_path)
    assert_one_line_error(result, "smaller --lr", "nothing was saved")
    assert result.stderr.count("\n") == 1  # no NumPy overflow warnings before the line
    assert snapshot(tmp_path / "models") == before


def test_04_keeps_a_better_model_of_the_same_data_unless_told_to_overwrite(tmp_path):
    out = tmp_path / "m.pt"
    better = digits_checkpoint()
    better["history"][0] |= {"val_loss": 0.001, "val_accuracy": 1.0}
    save_checkpoint(out, better)
    before = snapshot(tmp_path)
    result = run_script("04_neural_network_training.py", "--epochs", "1", "--out", str(out), out=tmp_path)
    assert_one_line_error(result, f"kept {out}", "better on validation (loss 0.0010, accuracy 100.00%)",
                          "--overwrite")
    assert snapshot(tmp_path) == before
    result = run_script("04_neural_network_training.py", "--epochs", "1", "--out", str(out), "--overwrite",
                        out=tmp_path)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert "--overwrite replaced a model that was better on validation (loss 0.0010, accuracy 100.00%)" in last


def test_04_never_replaces_a_good_model_with_a_diverged_one_even_if_its_loss_stays_finite(tmp_path):
    good = tmp_path / "good.pt"
    trained = run_script("04_neural_network_training.py", "--epochs", "2", "--hidden", "32", "--out", str(good),
                         out=tmp_path)
    assert trained.returncode == 0, trained.stderr
    before = snapshot(tmp_path)
    result = run_script("04_neural_network_training.py", "--epochs", "2", "--hidden", "32", "--lr", "50",
                        "--out", str(good), out=tmp_path)
    assert_one_line_error(result, "diverged", "smaller --lr")
    assert snapshot(tmp_path) == before


def test_04_refuses_to_replace_a_model_of_another_data_set(tmp_path):
    out = tmp_path / "m.pt"
    save_checkpoint(out, digits_checkpoint(dataset="mnist", input_shape=[28, 28], state_dict=MLP([784, 16, 10])
                                           .state_dict(), architecture=MLP([784, 16, 10]).architecture()))
    before = snapshot(tmp_path)
    assert_one_line_error(run_script("04_neural_network_training.py", "--epochs", "1", "--out", str(out),
                                     out=tmp_path), "holds a model of mnist, not digits")
    assert snapshot(tmp_path) == before


def test_a_model_08_trains_on_one_repeated_character_is_served_by_09_and_10(tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("a" * 2000)
    trained = run_script("08_train_llm.py", "--text", str(one), *TINY_08, "--max-iters", "4", "--eval-interval", "2",
                         out=tmp_path)
    assert trained.returncode == 0, trained.stderr
    checkpoint = tmp_path / "models" / "08_gpt_one.pt"
    used = run_script("09_use_llm.py", "--checkpoint", str(checkpoint), "--prompt", "a", "--max-new-tokens", "5",
                      out=tmp_path)
    assert used.returncode == 0 and "Traceback" not in used.stderr, used.stderr
    assert "1 characters" in used.stdout and "| aaaaa" in used.stdout
    served = run_script("10_deploy_llm.py", "--checkpoint", str(checkpoint), "--selftest", out=tmp_path)
    assert served.returncode == 0 and "Traceback" not in served.stderr, served.stderr


@pytest.mark.parametrize("shape, message", [((-1, -28, 28), "negative dimensions"),
                                            ((4194304, 2097152, 2097152), "header promises")])
@pytest.mark.parametrize("script", ["03_multilayer_perceptron.py", "04_neural_network_training.py"])
def test_an_idx_header_with_impossible_dimensions_is_one_line_naming_the_file(tmp_path, script, shape, message):
    data = tmp_path / "mnist"
    data.mkdir()
    write_tiny_mnist(data)
    write_idx(data / "t10k-images-idx3-ubyte.gz", 2051, shape, bytes(16))
    flags = ["--skip-toys"] if script.startswith("03") else []
    result = run_script(script, *flags, "--dataset", "mnist", "--data-dir", str(data), "--epochs", "1", out=tmp_path)
    assert_one_line_error(result, message, "t10k-images-idx3-ubyte.gz")


def full_disk(tmp_path, script: str, *args: str, keep: dict[str, bytes] | None = None):
    """Run ``script`` with its outputs on a small disk of their own that is all but full; return the run, and the
    bytes of each file there afterwards. A mount namespace of its own (``unshare``) makes the disk, no root needed."""
    keep = keep or {}
    for name, content in keep.items():
        (tmp_path / "stage" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "stage" / name).write_bytes(content)
    out, report = tmp_path / "disk", tmp_path / "report.json"
    out.mkdir()
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "NN_TUTORIAL_OUTPUT": str(out), "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    # Fill what the earlier files leave with a filler, less 4 kB: the new files cannot fit.
    program = textwrap.dedent(f"""
        import json, os, shutil, subprocess, sys
        out = {str(out)!r}
        shutil.copytree({str(tmp_path / "stage")!r}, out, dirs_exist_ok=True)
        free = shutil.disk_usage(out).free
        with open(os.path.join(out, "filler"), "wb") as f:
            f.write(bytes(max(0, free - 4096)))
        run = subprocess.run([sys.executable, {str(ROOT / script)!r}, *{list(args)!r}, "--no-show"],
                             capture_output=True, text=True)
        files = {{}}
        for folder, _, names in os.walk(out):
            for name in names:
                if name != "filler":
                    path = os.path.join(folder, name)
                    files[os.path.relpath(path, out)] = open(path, "rb").read().hex()
        json.dump({{"rc": run.returncode, "stdout": run.stdout, "stderr": run.stderr, "files": files}},
                  open({str(report)!r}, "w"))
    """)
    (tmp_path / "stage").mkdir(exist_ok=True)
    command = ["unshare", "--map-root-user", "--mount", "sh", "-c",
               f'mount -t tmpfs -o size=4m tmpfs "{out}" && exec "{sys.executable}" -c "$0"', program]
    try:
        started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        pytest.skip("no unshare here to make a small disk with")
    if not report.exists():
        pytest.skip(f"this system cannot make a small disk without root ({started.stderr.strip()[:100]})")
    result = json.loads(report.read_text())
    run = subprocess.CompletedProcess(script, result["rc"], result["stdout"], result["stderr"])
    return run, {name: bytes.fromhex(content) for name, content in result["files"].items()}


def test_a_full_disk_is_one_line_and_the_old_checkpoint_stays_whole(tmp_path, text, trained_08):
    old = {"models/08_gpt_small.pt": trained_08.read_bytes(),
           "models/08_gpt_small.json": trained_08.with_suffix(".json").read_bytes()}
    result, files = full_disk(tmp_path, "08_train_llm.py", "--text", str(text), *TINY_08, "--max-iters", "4",
                              "--eval-interval", "2", "--overwrite", keep=old)
    assert_one_line_error(result, "the disk is full", "as it was")
    assert {name: files[name] for name in old} == old  # the earlier model and its record, byte for byte


def test_a_full_disk_while_04_saves_is_one_line(tmp_path):
    result, files = full_disk(tmp_path, "04_neural_network_training.py", "--epochs", "1", "--hidden", "2000")
    assert_one_line_error(result, "the disk is full", "nothing was written")
    assert not any(name.endswith(".tmp") for name in files)  # no half-written file left behind


@pytest.mark.parametrize("script, args", [
    ("01_neuron_activation.py", []), ("02_perceptron.py", []), ("03_multilayer_perceptron.py", ["--skip-toys"]),
    ("04_neural_network_training.py", ["--epochs", "1"]), ("07_simple_llm.py", ["--max-iters", "1"]),
    ("08_train_llm.py", ["--max-iters", "1"]),
])
def test_an_unwritable_output_is_found_before_any_work(tmp_path, script, args):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_script(script, *args, out=blocker / "inside")
    assert_one_line_error(result, "cannot write")
    assert "epoch" not in result.stdout and "step" not in result.stdout


@pytest.mark.parametrize("script", ["04_neural_network_training.py", "08_train_llm.py"])
def test_out_naming_a_folder_is_refused_before_training(tmp_path, script):
    folder = tmp_path / "models.pt"
    folder.mkdir()
    assert_one_line_error(run_script(script, "--out", str(folder), out=tmp_path), "is a folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give files away")
def test_a_file_the_user_may_not_replace_is_one_line(tmp_path):
    """In a shared folder with the sticky bit (as /tmp), a user may add files but not replace another user's."""
    shared = tmp_path / "shared"
    shared.mkdir()
    record = shared / "r.json"
    write_record(record, {"lesson": "03", "owner": "someone else"})
    before = record.read_bytes()
    shared.chmod(0o1777)
    os.chown(record, 12345, 12345)
    os.chown(shared, 12345, 12345)
    program = ("from pathlib import Path; from common.cli import run; from common.records import write_record; "
               f"run(lambda: write_record(Path({str(record)!r}), {{'lesson': '03'}}))")
    # In a user namespace of its own this process is no longer the superuser for files of user 12345.
    command = ["unshare", "--map-root-user", sys.executable, "-c", program]
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    except FileNotFoundError:
        pytest.skip("no unshare here")
    if "unshare:" in result.stderr:
        pytest.skip(f"this system cannot make a user namespace ({result.stderr.strip()[:100]})")
    assert_one_line_error(result, f"cannot write {record}", "the file there is as it was")
    assert record.read_bytes() == before and [p.name for p in shared.iterdir()] == ["r.json"]


def test_files_are_written_with_the_users_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_record(tmp_path / "r.json", {"lesson": "03"})
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


# ----------------------------------------------------------------------------- one line, never a traceback


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("seed", ["-1", "100000000000000000000000"])
def test_a_seed_out_of_range_is_one_line(tmp_path, script, seed):
    assert_one_line_error(run_script(script, "--seed", seed, out=tmp_path), "a seed from 0 to 2**32 - 1")


@pytest.mark.parametrize("script, args, message", [
    ("01_neuron_activation.py", ["--inputs", "nan", "inf", "1"], "not a finite number"),
    ("01_neuron_activation.py", ["--bias", "inf"], "not a finite number"),
    ("04_neural_network_training.py", ["--hidden", "1000000000000"], "choose smaller sizes"),
    ("04_neural_network_training.py", ["--shift", "1e308"], "a shift from 0 to 64 pixels"),
    ("04_neural_network_training.py", ["--rotate", "1e308"], "an angle from 0 to 180 degrees"),
    ("07_simple_llm.py", ["--n-embd", "1000000", "--n-head", "1"], "choose smaller sizes"),
    ("08_train_llm.py", ["--n-embd", "1000000", "--n-head", "1"], "choose smaller sizes"),
    ("03_multilayer_perceptron.py", ["--skip-toys", "--hidden", "1000000000000"], "choose smaller sizes"),
    ("05_visualize_training.py", ["--hidden", "1000000000000"], "choose smaller sizes"),
    ("08_train_llm.py", ["--batch-size", "100000000"], "choose smaller sizes"),
    ("07_simple_llm.py", ["--lr", "1e30", "--max-iters", "5", "--block-size", "16"], "smaller --lr"),
])
def test_impossible_sizes_and_runaway_rates_are_one_line(tmp_path, script, args, message):
    assert_one_line_error(run_script(script, *args, out=tmp_path), message)


@pytest.mark.parametrize("knob", [["--temperature", "1e-300"], ["--top-p", "1e-300"]])
def test_09_with_a_tiny_temperature_or_top_p_samples_greedily(tmp_path, trained_08, knob):
    result = run_script("09_use_llm.py", "--checkpoint", str(trained_08), "--max-new-tokens", "10", *knob,
                        out=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_06_refuses_a_decompression_bomb_and_names_a_blank_picture(tmp_path):
    checkpoint = tmp_path / "m.pt"
    save_checkpoint(checkpoint, digits_checkpoint())
    bomb = tmp_path / "huge.png"
    Image.new("1", (14000, 14000)).save(bomb)
    assert_one_line_error(run_script("06_neural_network_inference.py", "--checkpoint", str(checkpoint), "--image",
                                     str(bomb), out=tmp_path), "huge.png", "too many pixels")
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 40), 255).save(blank)
    assert_one_line_error(run_script("06_neural_network_inference.py", "--checkpoint", str(checkpoint), "--image",
                                     str(blank), out=tmp_path), "blank.png", "looks blank")


@pytest.mark.parametrize("problem", ["empty test split", "test images of another size"])
def test_idx_data_that_cannot_be_tested_on_is_refused_before_training(tmp_path, problem):
    data = tmp_path / "mnist"
    data.mkdir()
    write_tiny_mnist(data, n_train=5010)
    if problem == "empty test split":
        write_idx(data / "t10k-images-idx3-ubyte.gz", 2051, (0, 28, 28))
        write_idx(data / "t10k-labels-idx1-ubyte.gz", 2049, (0,))
    else:
        write_idx(data / "t10k-images-idx3-ubyte.gz", 2051, (4, 20, 20))
    result = run_script("04_neural_network_training.py", "--dataset", "mnist", "--data-dir", str(data), "--epochs",
                        "1", out=tmp_path)
    assert_one_line_error(result, "test")
    assert "epoch" not in result.stdout


@pytest.mark.parametrize("change, message", [
    ({"history": []}, "history"), ({"history": [{"epoch": 1}]}, "history"),
    ({"input_shape": [8]}, "input_shape"), ({"input_shape": "8x8"}, "input_shape"),
    ({"class_names": "0123456789"}, "class_names"), ({"class_names": list("012")}, "classes"),
    ({"architecture": "mlp"}, "architecture"), ({"architecture": {"kind": "mlp"}}, "architecture"),
    ({"normalisation": {"mean": 0.3, "std": 0.0}}, "normalisation"), ({"dataset": "faces"}, "dataset"),
])
@pytest.mark.parametrize("script", ["05_visualize_training.py", "06_neural_network_inference.py"])
def test_hand_edited_04_checkpoints_are_one_line(tmp_path, script, change, message):
    checkpoint = tmp_path / "edited.pt"
    save_checkpoint(checkpoint, digits_checkpoint(**change))
    assert_one_line_error(run_script(script, "--checkpoint", str(checkpoint), out=tmp_path), message)


def test_05_refuses_a_record_without_its_data_set(tmp_path):
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"history": digits_checkpoint()["history"]}))
    assert_one_line_error(run_script("05_visualize_training.py", "--checkpoint", str(record), out=tmp_path),
                          "names no data set")


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["state_dict"]["lm_head.bias"].fill_(float("nan")), "not all finite"),
    (lambda c: c["config"].update(block_size=1), "block_size"),
    (lambda c: c.update(best_val_bpc="1.5"), "best_val_bpc"),
    (lambda c: c["config"].update(n_head=3), "n_head"),
    (lambda c: c["tokenizer"].update(vocab=VOCAB[:-1] + "a"), "distinct characters"),
    (lambda c: c.update(tokenizer={"kind": "bpe", "merges": [[97, 260]]}), "merge 0 is not a pair"),
    (lambda c: c.update(tokenizer={"kind": "bpe", "merges": []}), "tokenizer has 256 tokens"),
    (lambda c: c["tokenizer"].update(vocab=VOCAB[:-1] + "\udc80"), "not valid text"),  # a lone surrogate
    (lambda c: c.update(tokenizer={"kind": "bpe", "merges": [[97, 97]] + [[256 + i] * 2 for i in range(40)]}),
     "bytes in all"),  # each token twice the last: 2**41 bytes, were they made
    (lambda c: c["config"].update(n_layer=65536), "n_layer 65536"),
    (lambda c: c["config"].update(n_embd=65536, n_head=1), "more than half of this computer"),
])
def test_hand_edited_08_checkpoints_are_one_line_in_09_and_10(tmp_path, edit, message):
    torch.manual_seed(0)
    model = GPT(GPTConfig(len(VOCAB), block_size=16, n_layer=1, n_head=2, n_embd=16))
    good = tmp_path / "good.pt"
    save_gpt(good, model, CharTokenizer(VOCAB), best_val_bpc=2.0, text="t.txt")
    checkpoint = torch.load(good, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, tmp_path / "edited.pt")
    for script in ("09_use_llm.py", "10_deploy_llm.py"):
        args = ["--selftest"] if script == "10_deploy_llm.py" else ["--max-new-tokens", "5"]
        assert_one_line_error(run_script(script, "--checkpoint", str(tmp_path / "edited.pt"), *args, out=tmp_path),
                              message)


class Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("script", ["05_visualize_training.py", "06_neural_network_inference.py", "09_use_llm.py",
                                    "10_deploy_llm.py"])
def test_a_pickled_payload_is_refused_never_run_and_never_advised(tmp_path, script):
    marker = tmp_path / "the_payload_ran"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "nn-tutorial-gpt/1", "state_dict": Payload(marker)}, evil)
    result = run_script(script, "--checkpoint", str(evil), out=tmp_path)
    assert_one_line_error(result, "pickled Python objects")
    assert not marker.exists() and "weights_only" not in result.stderr


@pytest.mark.parametrize("script", ["06_neural_network_inference.py", "09_use_llm.py"])
def test_a_text_file_given_as_a_checkpoint_is_named_as_such(tmp_path, script):
    text_file = tmp_path / "notes.pt"
    text_file.write_text("these are my notes\n" * 20)
    result = run_script(script, "--checkpoint", str(text_file), out=tmp_path)
    assert_one_line_error(result, "not a PyTorch checkpoint")
    assert "(101)" not in result.stderr
