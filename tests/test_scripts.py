"""Every lesson's command line: --help explains each flag, a bad flag is one line, defaults follow their mode.

Each lesson's own runs are in its test file, tests/test_NN_*.py."""

import ast
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, assert_one_line_error, run_in_process, run_script

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


# Each lesson's command line is tried in this process (quick), and once more as a learner runs it (slow).
HOW = [run_in_process, pytest.param(run_script, marks=pytest.mark.slow)]


@pytest.mark.parametrize("run", HOW, ids=["in-process", "subprocess"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_help_explains_every_flag(script, run):
    result = run(script, "--help")
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


@pytest.mark.parametrize("run", HOW, ids=["in-process", "subprocess"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_nonsense_flag_is_one_line(script, run):
    assert_one_line_error(run(script, "--seed", "banana"), "'banana' is not a seed")


@pytest.mark.parametrize("script, mode, flag, shown", [
    ("03_multilayer_perceptron.py", ["--dataset", "mnist"], "--hidden", "(default: [512, 128])"),
    ("04_neural_network_training.py", ["--model", "cnn", "--dataset", "mnist"], "--rotate", "(default: 10.0)"),
    ("05_visualize_training.py", ["--demo", "overfit"], "--epochs", "(default: 150)"),
    ("08_train_llm.py", ["--quick"], "--block-size", "(default: 64)"),
])
def test_help_shows_the_defaults_of_the_mode_it_is_given(script, mode, flag, shown):
    """A default that depends on another flag is written at its own flag, and --help shows the one that applies."""
    plain = option_help(run_in_process(script, "--help").stdout)
    with_mode = option_help(run_in_process(script, *mode, "--help").stdout)
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
    assert_one_line_error(run_in_process("03_multilayer_perceptron.py", "--datas", "mnist"), "unrecognized arguments")


def lessons_imported(path) -> list[str]:
    """The lessons a file imports through common/lessons.py: the names in its lesson("NN_...") calls."""
    return [call.args[0].value for call in ast.walk(ast.parse(path.read_text()))
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) in ("lesson", "load_lesson")
            and call.args and isinstance(call.args[0], ast.Constant)]


def test_a_lesson_imports_only_earlier_lessons_and_common_imports_none():
    for script in SCRIPTS:
        for name in lessons_imported(ROOT / script):
            assert name[:2] < script[:2] and (ROOT / f"{name}.py").is_file(), f"{script} imports {name}"
    assert lessons_imported(ROOT / "09_use_llm.py") == ["07_simple_llm", "08_train_llm"]  # the parse finds them
    for module in sorted((ROOT / "common").glob("*.py")):
        assert not lessons_imported(module), f"common/{module.name} imports a lesson"


def test_common_defines_no_network_and_says_it_is_plumbing():
    """Taught code lives in its lesson: no nn.Module subclass in common/, and each module says what it is."""
    for module in sorted((ROOT / "common").glob("*.py")):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base) for base in node.bases]
                assert not any(base.split(".")[-1] == "Module" for base in bases), f"{module.name}: {node.name}"
        first_line = (ast.get_docstring(tree) or "").splitlines()[0]
        assert "lumbing" in first_line or module.name == "activations.py", f"{module.name}: {first_line}"


def docs_pictures():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import docs_pictures

    return docs_pictures


def test_every_picture_in_docs_says_which_command_makes_it():
    """The README's pictures come from benchmarks/docs_pictures.py, or say why they cannot (a window, MNIST)."""
    made = docs_pictures()
    named = {picture for _, pictures in [*made.RUNS, made.BPE_RUN] for picture in pictures} | set(made.NOT_REGENERATED)
    assert named == {path.name for path in (ROOT / "docs").iterdir()}
    assert all((ROOT / command[0]).is_file() for command, _ in made.RUNS)


@pytest.mark.slow
def test_the_first_lessons_still_write_the_pictures_docs_shows(tmp_path):
    """A figure renamed in a lesson would leave docs/ stale: the names docs_pictures.py copies must still be made."""
    made = docs_pictures()
    for command, pictures in made.RUNS[:4]:  # 01-04: a few seconds each
        result = run_script(*command, out=tmp_path)
        assert result.returncode == 0, result.stderr
        for picture in pictures:
            assert (tmp_path / "figures" / picture).is_file(), f"{' '.join(command)} no longer writes {picture}"


def test_every_lesson_docstring_fits_in_40_lines():
    """The question, the idea and its equations, how to run it; longer explanations sit beside their code."""
    lengths = {script: len(ast.get_docstring(ast.parse((ROOT / script).read_text())).splitlines())
               for script in SCRIPTS}
    assert all(n <= 40 for n in lengths.values()), {s: n for s, n in lengths.items() if n > 40}


def test_no_lesson_is_longer_than_550_lines():
    """A lesson longer than that holds a second lesson's idea: it belongs in that lesson, or in common/."""
    lengths = {script: len((ROOT / script).read_text().splitlines()) for script in SCRIPTS}
    assert all(n <= 550 for n in lengths.values()), {s: n for s, n in lengths.items() if n > 550}


@pytest.mark.slow
def test_a_lesson_whose_earlier_lesson_is_missing_says_so_in_one_line(tmp_path):
    """09 alone with common/, without 07 and 08 beside it: one line naming the missing file."""
    shutil.copytree(ROOT / "common", tmp_path / "common")
    shutil.copy(ROOT / "09_use_llm.py", tmp_path)
    result = subprocess.run([sys.executable, str(tmp_path / "09_use_llm.py"), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert_one_line_error(result, "07_simple_llm.py is missing")
