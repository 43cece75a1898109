"""Lesson 02: the perceptron learns AND and OR, not XOR, and its gradients match finite differences."""

import numpy as np
import pytest
from conftest import assert_one_line_error, run_in_process, run_script

from common.data import logic_gate


def test_learns_and_or_but_not_xor(lesson):
    perceptron = lesson("02_perceptron")
    correct = {}
    for gate in ("AND", "OR", "XOR"):
        X, y = logic_gate(gate)
        w, b, losses, _ = perceptron.train(X, y, lr=1.0, epochs=2000, rng=np.random.default_rng(0))
        decisions = perceptron.decide(perceptron.predict_proba(X, w, b))
        correct[gate] = sum(d == target for d, target in zip(decisions, y))
        if gate == "XOR":
            assert abs(losses[-1] - np.log(2)) < 1e-6  # ln 2: "always 0.5"
            assert decisions == [None] * 4 and np.abs(w).max() < 1e-6
        else:
            assert losses[-1] < 0.02 < losses[0]
    assert correct == {"AND": 4, "OR": 4, "XOR": 0}


def test_xor_gradient_vanishes_at_zero_by_symmetry(lesson):
    perceptron = lesson("02_perceptron")
    X, y = logic_gate("XOR")
    dw, db = perceptron.gradients(X, y, np.zeros(2), 0.0)
    assert np.all(dw == 0) and db == 0
    _, db_and = perceptron.gradients(*logic_gate("AND"), np.zeros(2), 0.0)
    assert db_and == 0.25  # AND is not balanced: the bias is pushed down, and training moves on


def test_gradients_match_finite_differences(lesson):
    perceptron = lesson("02_perceptron")
    X, y = logic_gate("AND")
    w, b, h = np.array([0.3, -0.7]), 0.2, 1e-6
    dw, db = perceptron.gradients(X, y, w, b)
    loss = lambda w, b: perceptron.binary_cross_entropy(perceptron.predict_proba(X, w, b), y)  # noqa: E731
    numeric_dw = [(loss(w + h * e, b) - loss(w - h * e, b)) / (2 * h) for e in np.eye(2)]
    assert np.allclose(dw, numeric_dw, atol=1e-8)
    assert np.isclose(db, (loss(w, b + h) - loss(w, b - h)) / (2 * h), atol=1e-8)


# ----------------------------------------------------------------------------- the script, as a learner runs it


def test_02_prints_what_each_gate_learned():
    result = run_script("02_perceptron.py", "--seed", "4")
    assert result.returncode == 0, result.stderr
    assert "AND 4/4, OR 4/4, XOR 0/4" in result.stdout
    assert result.stdout.count("none (p = 0.5)") == 4 and "no boundary line to draw" in result.stdout
    assert "AND lr 10" in result.stdout and "overshot" in result.stdout and "steps too small" in result.stdout
    xor_too_large = next(line for line in result.stdout.splitlines() if "XOR lr 10 " in line)
    assert "jump to and fro across the bottom" in xor_too_large and "too large" in xor_too_large
    assert "at the same height, so the loss stays put while the weights do not" in result.stdout


def test_the_learning_rate_verdicts_say_what_the_losses_and_weights_did(lesson, capsys):
    import matplotlib.pyplot as plt

    perceptron = lesson("02_perceptron")
    X, y = logic_gate("XOR")
    _, _, losses, path = perceptron.train(X, y, 10.0, 2000, np.random.default_rng(0))
    assert np.ptp(losses[1000:]) < 1e-9  # on XOR at lr 10 the loss stays put ...
    assert np.linalg.norm(path[-1] - path[-2]) > 5 and np.allclose(path[-1], path[-3])  # ... the weights jump to and fro
    assert np.allclose(path[-1], -path[-2])  # across the bottom, w = 0, b = 0

    fig, axes = plt.subplots(1, 2)
    jumps = perceptron.compare_learning_rates([1.0, 10.0], 2000, np.random.default_rng(0),
                                              {"AND": axes[0], "XOR": axes[1]})
    plt.close(fig)
    lines = capsys.readouterr().out.splitlines()
    assert [lr for lr, *_ in jumps] == [10.0]
    rng = np.random.default_rng(0)  # the same draws as compare_learning_rates: AND at lr 1, then at lr 10
    perceptron.train(*logic_gate("AND"), 1.0, 2000, rng)
    and_losses = np.array(perceptron.train(*logic_gate("AND"), 10.0, 2000, rng)[2])
    rises = np.flatnonzero(np.diff(and_losses) > 1e-9) + 1
    and_line = next(line for line in lines if "AND lr 10 " in line)
    assert f"the loss rose after {len(rises)} of the first {rises[-1]} steps" in and_line
    assert np.all(np.diff(and_losses[rises[-1]:]) <= 1e-9)  # "then fell"


@pytest.mark.slow
def test_02_same_seed_same_numbers():
    first, second = run_script("02_perceptron.py", "--seed", "4"), run_script("02_perceptron.py", "--seed", "4")
    assert first.returncode == 0 and first.stdout == second.stdout


def test_02_refuses_negative_learning_rate():
    assert_one_line_error(run_in_process("02_perceptron.py", "--lr", "-1"), "--lr", "not a positive number")
