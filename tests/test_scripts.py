"""Each lesson as a learner runs it: --help, a short headless run, and bad input."""

import json
import re

import pytest
from conftest import ROOT, assert_one_line_error, run_script

SCRIPTS = sorted(p.name for p in ROOT.glob("[01][0-9]_*.py"))


def test_all_ten_lessons_exist():
    assert [s[:2] for s in SCRIPTS] == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]


def option_help(help_text: str) -> dict[str, str]:
    """Each option line of argparse's --help ("  --flag VALUE   text", text maybe on following lines) -> its text."""
    entries: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        match = re.match(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$", line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2) or ""
        elif current and line.startswith("    ") and line.strip():
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_explains_every_flag(script):
    result = run_script(script, "--help")
    assert result.returncode == 0, result.stderr
    assert "Lesson" in result.stdout
    usage = result.stdout.split("\n\n")[0]
    flags = set(re.findall(r"--[a-z][a-z0-9-]*", usage))
    assert {"--seed", "--no-show"} <= flags
    entries = option_help(result.stdout)
    for flag in flags:
        texts = [text for names, text in entries.items() if flag in re.findall(r"--[a-z][a-z0-9-]*", names)]
        assert len(texts) == 1, f"{flag} has no entry of its own in --help"
        assert len(texts[0].split()) >= 3, f"{flag} is not explained: {texts[0]!r}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_nonsense_flag_is_one_line(script):
    assert_one_line_error(run_script(script, "--seed", "banana"), "'banana' is not a seed")


def test_01_prints_the_neuron_and_saves_its_figure(tmp_path):
    result = run_script("01_neuron_activation.py", "--inputs", "1", "2", "--weights", "0.5", "-0.25", "--bias", "0.1",
                        "--activation", "relu", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "z = w . x + b           = +0.1000" in result.stdout
    assert (tmp_path / "figures" / "01_activations.png").is_file()


def test_01_rejects_mismatched_weights():
    assert_one_line_error(run_script("01_neuron_activation.py", "--inputs", "1", "2", "--weights", "1"),
                          "one value per input")


def test_02_same_seed_same_numbers():
    first, second = run_script("02_perceptron.py", "--seed", "4"), run_script("02_perceptron.py", "--seed", "4")
    assert first.returncode == 0 and first.stdout == second.stdout
    assert "AND 4/4, OR 4/4, XOR 0/4" in first.stdout
    assert first.stdout.count("none (p = 0.5)") == 4 and "no boundary line to draw" in first.stdout
    assert "AND lr 10" in first.stdout and "overshot" in first.stdout and "steps too small" in first.stdout
    xor_too_large = next(line for line in first.stdout.splitlines() if "XOR lr 10 " in line)
    assert "bounces across the bottom" in xor_too_large and "too large" in xor_too_large


def test_02_refuses_negative_learning_rate():
    assert_one_line_error(run_script("02_perceptron.py", "--lr", "-1"), "--lr", "not a positive number")


def test_03_default_run_saves_parameters_and_record(tmp_path):
    result = run_script("03_multilayer_perceptron.py", "--epochs", "3", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4/4 correct" in result.stdout and "TOO LARGE" not in result.stdout
    assert (tmp_path / "models" / "03_mlp_digits_cross_entropy_relu.npz").is_file()
    for name in ("03_toy_problems", "03_digits_cross_entropy_relu_training"):
        assert (tmp_path / "figures" / f"{name}.png").is_file()


def test_03_missing_mnist_is_one_line(tmp_path):
    result = run_script("03_multilayer_perceptron.py", "--skip-toys", "--dataset", "mnist", "--data-dir", str(tmp_path))
    assert_one_line_error(result, "MNIST not found", str(tmp_path))


def test_03_skip_toys_gives_the_same_network_as_a_full_run(tmp_path):
    full = run_script("03_multilayer_perceptron.py", "--epochs", "2", "--seed", "3", out=tmp_path / "full")
    skipped = run_script("03_multilayer_perceptron.py", "--epochs", "2", "--seed", "3", "--skip-toys",
                         out=tmp_path / "skipped")
    assert full.returncode == skipped.returncode == 0, full.stderr + skipped.stderr
    # Every loss and accuracy of part 5 (timings aside) must be the same number in both runs.
    numbers = [re.findall(r"(?:loss|accuracy) (\d+\.\d+%?)", out.stdout[out.stdout.index("5. Real data"):])
               for out in (full, skipped)]
    assert numbers[0] == numbers[1] and len(numbers[0]) >= 7


def test_03_compares_only_runs_that_differ_in_loss_and_activation(tmp_path):
    mse = run_script("03_multilayer_perceptron.py", "--skip-toys", "--epochs", "2", "--loss", "mse", "--activation",
                     "sigmoid", out=tmp_path)
    assert mse.returncode == 0, mse.stderr
    models = tmp_path / "models"
    other = json.loads((models / "03_mlp_digits_mse_sigmoid.json").read_text())
    other["activation"], other["hyperparameters"]["seed"] = "tanh", 9  # another seed: not like for like
    (models / "03_mlp_digits_cross_entropy_tanh.json").write_text(json.dumps(other))
    result = run_script("03_multilayer_perceptron.py", "--skip-toys", "--epochs", "2", out=tmp_path)
    assert result.returncode == 0, result.stderr
    compared = result.stdout[result.stdout.index("comparison with"):]
    assert compared.count("val accuracy after epoch 1") == 2
    assert "(03_mlp_digits_mse_sigmoid.json)" in compared and "tanh" not in compared


@pytest.mark.parametrize("script, mode, flag, shown", [
    ("03_multilayer_perceptron.py", ["--dataset", "mnist"], "--hidden", "(default: [512, 128])"),
    ("04_neural_network_training.py", ["--model", "cnn", "--dataset", "mnist"], "--rotate", "(default: 10.0)"),
    ("05_visualize_training.py", ["--demo", "overfit"], "--epochs", "(default: 150)"),
    ("08_train_llm.py", ["--quick"], "--block-size", "(default: 64)"),
])
def test_help_shows_the_defaults_of_the_mode_it_is_given(script, mode, flag, shown):
    """A default that depends on another flag is written at its own flag, and --help shows the one that applies."""
    plain, with_mode = option_help(run_script(script, "--help").stdout), option_help(run_script(script, *mode,
                                                                                                "--help").stdout)
    entry = next(names for names in with_mode if names.startswith(flag + " "))
    assert shown in with_mode[entry] and shown not in plain[entry]


def test_a_mode_flag_is_read_as_the_full_parse_reads_it():
    from common.cli import given

    assert given("--dataset", ["--dataset", "mnist", "--lr", "1"]) == "mnist"
    assert given("--dataset", ["--dataset=mnist"]) == "mnist"
    assert given("--dataset", ["--data-dir", "x"], default="digits") == "digits"
    assert given("--dataset", ["--dataset"], default="digits") == "digits"  # the full parse refuses the line
    assert given("--quick", ["--quick"], action="store_true") and not given("--quick", [], action="store_true")
    # No abbreviations anywhere: --data would be --dataset to one parser and ambiguous to the other
    assert_one_line_error(run_script("03_multilayer_perceptron.py", "--datas", "mnist"), "unrecognized arguments")
