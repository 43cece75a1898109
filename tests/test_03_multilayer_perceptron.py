"""Lesson 03's NumPy MLP: gradient check, parity with PyTorch, and it learns."""

import json
import re

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, load_lesson, run_in_process, run_script

from common.activations import ACTIVATIONS

learning_rate = load_lesson("03_multilayer_perceptron").learning_rate

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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_equals_pytorch_adamw_with_free_biases(mlp, dtype):
    """Many steps on a weight matrix and a bias; decay on the weights only, as in torch's param groups."""
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(40, 30)).astype(dtype), rng.normal(size=30).astype(dtype)
    ours = [W.copy(), b.copy()]
    theirs = [torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)]
    opt_ours = mlp.Adam(ours, weight_decay=0.1)
    opt_torch = torch.optim.AdamW([{"params": [theirs[0]], "weight_decay": 0.1},
                                   {"params": [theirs[1]], "weight_decay": 0.0}], lr=0.01)
    for step in range(200):
        lr = 0.01 * (1 - step / 200)  # a schedule, as fit() gives it
        grads = [rng.normal(size=W.shape).astype(dtype), rng.normal(size=b.shape).astype(dtype)]
        opt_ours.step(list(zip(ours, grads)), lr=lr)
        for group in opt_torch.param_groups:
            group["lr"] = lr
        for p, g in zip(theirs, grads):
            p.grad = torch.from_numpy(g)
        opt_torch.step()
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for mine, reference in zip(ours, theirs):
        assert mine.dtype == dtype
        np.testing.assert_allclose(mine, reference.detach().numpy(), rtol=0, atol=tolerance)
    assert not np.allclose(ours[1], b) and abs(np.linalg.norm(ours[0]) - np.linalg.norm(W)) > 1e-3


def test_one_hot(mlp):
    assert mlp.one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_the_schedule_is_a_cosine_after_a_linear_warm_up():
    assert learning_rate(0, 1.0, 0.0, 0, 10) == 1.0  # no warm-up: lesson 03's cosine from the peak
    assert np.isclose(learning_rate(5, 1.0, 0.0, 0, 10), 0.5) and np.isclose(learning_rate(10, 1.0, 0.0, 0, 10), 0.0)
    assert [learning_rate(s, 2.0, 0.2, 4, 20) for s in range(4)] == [0.5, 1.0, 1.5, 2.0]  # lesson 08's warm-up
    assert np.isclose(learning_rate(12, 2.0, 0.2, 4, 20), 1.1) and np.isclose(learning_rate(20, 2.0, 0.2, 4, 20), 0.2)
    torch_lr = torch.optim.lr_scheduler.CosineAnnealingLR(torch.optim.SGD([torch.zeros(1)], lr=1.0), T_max=10)
    for step in range(10):  # PyTorch's own cosine agrees
        assert np.isclose(torch_lr.get_last_lr()[0], learning_rate(step, 1.0, 0.0, 0, 10))
        torch_lr.optimizer.step()
        torch_lr.step()


def test_learns_xor(mlp):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert mlp.solve_xor(np.random.default_rng(0), ax) == 4
    plt.close(fig)


def digits_defaults(mlp) -> dict:
    """The training settings 03 runs the digits with when no flag is given."""
    args = mlp.parse_args([])
    return {key: getattr(args, key) for key in ("hidden", "epochs", "batch_size", "lr", "weight_decay", "augment")}


def test_defaults_follow_the_dataset_and_flags_override_them(mlp):
    assert mlp.parse_args([]).hidden == [128] and mlp.parse_args([]).augment == 0
    mnist = mlp.parse_args(["--dataset", "mnist"])
    assert (mnist.hidden, mnist.epochs, mnist.batch_size, mnist.augment) == ([512, 128], 10, 512, 1)
    assert mlp.parse_args(["--dataset=mnist", "--lr", "0.5"]).lr == 0.5


def test_digits_reach_95_percent_on_validation(mlp):
    from common.data import load_digits_dataset

    settings = digits_defaults(mlp)
    _, record = mlp.train_on_dataset(load_digits_dataset(0), **settings, activation="relu", loss="cross_entropy",
                                     seed=0, rng=np.random.default_rng(0))
    assert max(h["val_accuracy"] for h in record["history"]) >= 0.95
    assert len(record["history"]) == settings["epochs"]
    assert record["history"][-1]["train_loss"] < record["history"][0]["train_loss"]


def test_weight_decay_shrinks_the_weights(mlp):
    from common.data import load_digits_dataset

    settings = {**digits_defaults(mlp), "epochs": 10}
    norms = {}
    for decay in (0.0, 0.1):
        settings["weight_decay"] = decay
        _, record = mlp.train_on_dataset(load_digits_dataset(0), **settings, activation="relu",
                                         loss="cross_entropy", seed=0, rng=np.random.default_rng(0))
        norms[decay] = record["weight_norm"]
    assert norms[0.1] < 0.97 * norms[0.0]


def test_train_and_validation_loss_are_measured_alike(mlp):
    """Fed the same data as training and validation, fit() must report the same loss for both."""
    rng = np.random.default_rng(0)
    X, y = small_problem(rng, n=64)
    Y = mlp.one_hot(y, 4)
    model = mlp.MLP([5, 8, 4], "relu", rng)
    history = mlp.fit(model, mlp.softmax_cross_entropy, X.astype(np.float32), Y, X.astype(np.float32), Y, epochs=3,
                      batch_size=16, lr=1e-2, weight_decay=0.0, rng=rng, verbose=False)
    for entry in history:
        assert entry["train_loss"] == entry["val_loss"]


@pytest.mark.parametrize("seed", range(10))
def test_the_lessons_gradient_check_passes_on_every_seed(mlp, seed, capsys):
    """03 prints this check: for no seed may it land on ReLU's kink and fail a correct backward()."""
    errors = mlp.run_gradient_checks(np.random.default_rng(seed))
    assert max(errors.values()) < 1e-7 and "TOO LARGE" not in capsys.readouterr().out


def test_the_check_stays_off_the_kink(mlp):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 4))
    model = mlp.network_to_check([4, 5, 3, 3], "relu", "mse", X, rng)
    assert mlp.kink_margin(model, X) >= mlp.KINK_MARGIN
    unchecked = mlp.MLP([4, 5, 3, 3], "relu", np.random.default_rng(1), dtype=np.float64)  # biases at 0
    unchecked.forward(np.zeros((1, 4)))
    assert mlp.kink_margin(unchecked, np.zeros((1, 4))) == 0.0  # what the check avoids: inputs exactly on the kink


# ----------------------------------------------------------------------------- the script, as a learner runs it


def test_03_default_run_saves_parameters_and_record(tmp_path):
    result = run_script("03_multilayer_perceptron.py", "--epochs", "3", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4/4 correct" in result.stdout and "TOO LARGE" not in result.stdout
    assert (tmp_path / "models" / "03_mlp_digits_cross_entropy_relu.npz").is_file()
    for name in ("03_toy_problems", "03_digits_cross_entropy_relu_training"):
        assert (tmp_path / "figures" / f"{name}.png").is_file()


def test_03_missing_mnist_is_one_line(tmp_path):
    result = run_in_process("03_multilayer_perceptron.py", "--skip-toys", "--dataset", "mnist", "--data-dir", str(tmp_path))
    assert_one_line_error(result, "MNIST not found", str(tmp_path))


@pytest.mark.slow
def test_03_skip_toys_gives_the_same_network_as_a_full_run(tmp_path):
    full = run_script("03_multilayer_perceptron.py", "--epochs", "2", "--seed", "3", out=tmp_path / "full")
    skipped = run_script("03_multilayer_perceptron.py", "--epochs", "2", "--seed", "3", "--skip-toys",
                         out=tmp_path / "skipped")
    assert full.returncode == skipped.returncode == 0, full.stderr + skipped.stderr
    # Every loss and accuracy of part 5 (timings aside) must be the same number in both runs.
    numbers = [re.findall(r"(?:loss|accuracy) (\d+\.\d+%?)", out.stdout[out.stdout.index("5. Real data"):])
               for out in (full, skipped)]
    assert numbers[0] == numbers[1] and len(numbers[0]) >= 7


@pytest.mark.slow
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
