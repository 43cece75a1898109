"""Lesson 01: each activation and its slope against finite differences and PyTorch, stable at the extremes."""

import warnings

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_in_process, run_script

from common.activations import ACTIVATIONS, log_softmax, sigmoid, softmax, softmax_jacobian

Z = np.linspace(-6, 6, 97) + 0.013  # avoid the kink of relu at exactly 0


def test_known_values():
    assert sigmoid(np.array(0.0)) == 0.5
    assert np.isclose(sigmoid(np.array(2.0)), 1 / (1 + np.exp(-2.0)))
    assert np.allclose(ACTIVATIONS["relu"][0](np.array([-2.0, 0.0, 3.0])), [0, 0, 3])
    assert np.allclose(ACTIVATIONS["leaky_relu"][0](np.array([-2.0, 3.0])), [-0.02, 3])
    assert np.allclose(softmax(np.array([1.0, 2.0, 3.0])), np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_matches_finite_differences(name):
    f, df = ACTIVATIONS[name]
    h = 1e-6
    numeric = (f(Z + h) - f(Z - h)) / (2 * h)
    assert np.allclose(df(Z), numeric, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_matches_pytorch(name):
    torch_fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01)}[name]
    z = torch.tensor(Z, requires_grad=True)
    torch_fn(z).sum().backward()
    f, df = ACTIVATIONS[name]
    assert np.allclose(f(Z), torch_fn(torch.tensor(Z)).numpy(), atol=1e-12)
    assert np.allclose(df(Z), z.grad.numpy(), atol=1e-12)


def test_softmax_and_log_softmax_match_pytorch():
    z = np.random.default_rng(0).normal(size=(5, 7)) * 10
    assert np.allclose(softmax(z), torch.softmax(torch.tensor(z), -1).numpy(), atol=1e-12)
    assert np.allclose(log_softmax(z), torch.log_softmax(torch.tensor(z), -1).numpy(), atol=1e-12)
    assert np.allclose(softmax(z).sum(-1), 1)


def test_softmax_jacobian_matches_finite_differences():
    z, h = np.array([0.3, -1.2, 2.0]), 1e-6
    numeric = np.stack([(softmax(z + h * e) - softmax(z - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    assert np.allclose(softmax_jacobian(z), numeric, atol=1e-9)


def test_stable_at_plus_minus_1000():
    z = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
            s = sigmoid(z)
            p = softmax(np.array([1000.0, 1000.0, -1000.0]))
            lp = log_softmax(np.array([1000.0, 0.0, -1000.0]))
            ds = ACTIVATIONS["sigmoid"][1](z)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert p.tolist() == [0.5, 0.5, 0.0]  # e^-2000 is 0 in floating point, not some small floor
    assert np.allclose(lp, [0.0, -1000.0, -2000.0])
    assert np.all(np.isfinite(ds)) and ds[0] == 0.0


def test_softmax_is_exact_for_tiny_probabilities():
    """No floor on the exponent: e^-100 and e^-700 come out as themselves, relative to 1."""
    for gap in (100.0, 700.0):
        p = softmax(np.array([0.0, -gap]))
        assert np.isclose(p[1], np.exp(-gap), rtol=1e-12, atol=0)
        assert np.isclose(log_softmax(np.array([0.0, -gap]))[1], -gap, rtol=1e-12)


# ----------------------------------------------------------------------------- the script, as a learner runs it


def test_01_prints_the_neuron_and_saves_its_figure(tmp_path):
    result = run_script("01_neuron_activation.py", "--inputs", "1", "2", "--weights", "0.5", "-0.25", "--bias", "0.1",
                        "--activation", "relu", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "z = w . x + b           = +0.1000" in result.stdout
    # the chain rule worked by hand: relu's slope at z = 0.1 is 1, and dz/dw1 = x1 = 1
    assert "f'(z) * x1 = +1.0000 * +1.000 = +1.0000" in result.stdout and "They agree" in result.stdout
    assert (tmp_path / "figures" / "01_activations.png").is_file()


def test_01_rejects_mismatched_weights():
    assert_one_line_error(run_in_process("01_neuron_activation.py", "--inputs", "1", "2", "--weights", "1"),
                          "one value per input")
