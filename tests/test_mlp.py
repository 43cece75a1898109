"""Lesson 03's NumPy MLP: gradient check, parity with PyTorch, and it learns."""

import numpy as np
import pytest
import torch

from common.activations import ACTIVATIONS

LOSSES = ["cross_entropy", "mse"]


@pytest.fixture(scope="module")
def mlp(lesson):
    return lesson("03_multilayer_perceptron")


def small_problem(rng, n=8, n_in=5, n_classes=4):
    X = rng.normal(size=(n, n_in))
    y = rng.integers(0, n_classes, size=n)
    return X, y


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_check(mlp, activation, loss):
    rng = np.random.default_rng(1)
    X, y = small_problem(rng)
    model = mlp.MLP([5, 6, 4, 4], activation, rng, output_sigmoid=loss == "mse", dtype=np.float64)
    assert mlp.gradient_check(model, mlp.LOSSES[loss], X, mlp.one_hot(y, 4, np.float64)) < 1e-7


def test_gradient_check_catches_a_wrong_backward(mlp):
    rng = np.random.default_rng(1)
    X, y = small_problem(rng)
    model = mlp.MLP([5, 6, 4], "tanh", rng, dtype=np.float64)
    model.layers[1].df = lambda z: 1.1 * (1 - np.tanh(z) ** 2)  # a 10% mistake in tanh'
    assert mlp.gradient_check(model, mlp.softmax_cross_entropy, X, mlp.one_hot(y, 4, np.float64)) > 1e-3


def torch_twin(model, activation, output_sigmoid):
    """An equal PyTorch network with the NumPy weights copied in (float64)."""
    act = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
           "leaky_relu": lambda: torch.nn.LeakyReLU(0.01)}[activation]
    dense = [layer for layer in model.layers if isinstance(layer, type(model.layers[0]))]
    modules = []
    for i, layer in enumerate(dense):
        linear = torch.nn.Linear(*layer.W.shape).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W.T))
            linear.bias.copy_(torch.from_numpy(layer.b))
        modules.append(linear)
        if i < len(dense) - 1:
            modules.append(act())
    if output_sigmoid:
        modules.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*modules), dense


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_and_gradients_equal_pytorch(mlp, activation, loss):
    rng = np.random.default_rng(2)
    X, y = small_problem(rng, n=16, n_in=7, n_classes=5)
    model = mlp.MLP([7, 9, 6, 5], activation, rng, output_sigmoid=loss == "mse", dtype=np.float64)
    Y = mlp.one_hot(y, 5, np.float64)
    our_loss = mlp.loss_and_gradients(model, mlp.LOSSES[loss], X, Y)

    net, dense = torch_twin(model, activation, output_sigmoid=loss == "mse")
    out = net(torch.from_numpy(X))
    if loss == "cross_entropy":
        torch_loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(y))
    else:
        torch_loss = 0.5 * ((out - torch.from_numpy(Y)) ** 2).sum(1).mean()
    torch_loss.backward()

    assert abs(our_loss - torch_loss.item()) < 1e-10
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for layer, linear in zip(dense, linears):
        np.testing.assert_allclose(layer.dW, linear.weight.grad.numpy().T, rtol=0, atol=1e-10)
        np.testing.assert_allclose(layer.db, linear.bias.grad.numpy(), rtol=0, atol=1e-10)


def test_adam_step_equals_pytorch_adamw(mlp):
    rng = np.random.default_rng(3)
    W = rng.normal(size=(4, 3))
    ours, theirs = W.copy(), torch.tensor(W, requires_grad=True)
    opt_ours = mlp.Adam([ours], lr=0.01, weight_decay=0.1)
    opt_torch = torch.optim.AdamW([theirs], lr=0.01, weight_decay=0.1)
    for _ in range(5):
        g = rng.normal(size=W.shape)
        opt_ours.step([(ours, g)], lr=0.01)
        theirs.grad = torch.from_numpy(g)
        opt_torch.step()
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)


def test_one_hot(mlp):
    assert mlp.one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_cosine_schedule(mlp):
    assert mlp.cosine_lr(1.0, 0, 10) == 1.0
    assert np.isclose(mlp.cosine_lr(1.0, 5, 10), 0.5)
    assert np.isclose(mlp.cosine_lr(1.0, 10, 10), 0.0)


def test_learns_xor(mlp):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert mlp.solve_xor(np.random.default_rng(0), ax) == 4
    plt.close(fig)


def test_digits_reach_97_percent(mlp):
    from argparse import Namespace

    from common.data import load_digits_dataset

    args = Namespace(**mlp.DEFAULTS["digits"], activation="relu", loss="cross_entropy", optimizer="adam", seed=0)
    _, record = mlp.train_on_dataset(load_digits_dataset(0), args, np.random.default_rng(0))
    assert record["test_accuracy"] >= 0.97
    assert len(record["history"]) == args.epochs
    assert record["history"][-1]["train_loss"] < record["history"][0]["train_loss"]
