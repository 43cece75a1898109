"""Lesson 05: what the recorder records, and the headless figures and GIF."""

import math

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, load_lesson, run_in_process, run_script
from PIL import Image

from common.data import load_digits_dataset, normalisation

MLP = load_lesson("04_neural_network_training").MLP


@pytest.fixture(scope="module")
def visualize(lesson):
    return lesson("05_visualize_training")


@pytest.fixture(scope="module")
def digits():
    return load_digits_dataset(0)


def load_digits_standardised():
    """The digits as 05 prepares them: standardised with the training split's statistics."""
    data = load_digits_dataset(0)
    data.standardise(*normalisation(data.X_train))
    return data


def test_history_has_one_finite_entry_per_epoch(visualize, digits):
    recorder = visualize.fit(digits, [16], epochs=3, lr=1e-2, quiet=True)
    assert [h["epoch"] for h in recorder.history] == [1, 2, 3]
    for entry in recorder.history:
        assert set(entry) >= {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "weight_norm",
                              "update_ratio", "seconds"}
        values = [entry["train_loss"], entry["val_loss"], *entry["weight_norm"], *entry["update_ratio"]]
        assert all(math.isfinite(v) for v in values)
        assert len(entry["weight_norm"]) == len(entry["update_ratio"]) == 2
        assert all(r > 0 for r in entry["update_ratio"])
    assert sorted(recorder.snapshots) == [0, 1, 2, 3]


def test_update_ratio_comes_from_real_changes(visualize, digits):
    frozen = visualize.fit(digits, [16], epochs=2, lr=0.0, quiet=True)
    assert all(r == 0.0 for h in frozen.history for r in h["update_ratio"])
    moving = visualize.fit(digits, [16], epochs=1, lr=1e-2, seed=0, quiet=True)
    torch.manual_seed(0)  # fit builds its network right after this seed: the same starting weights, rebuilt here
    before = [layer.weight.detach() for layer in MLP([64, 16, 10]).linear_layers()]
    after = [layer.weight.detach() for layer in moving.model.linear_layers()]  # the network itself, after one epoch
    expected = [float(torch.linalg.norm(a - b) / torch.linalg.norm(b)) for a, b in zip(after, before)]
    assert all(r > 0 for r in expected)
    np.testing.assert_allclose(moving.history[0]["update_ratio"], expected, rtol=1e-5)


def test_headless_run_writes_pngs_and_an_animated_gif(tmp_path):
    result = run_script("05_visualize_training.py", "--epochs", "3", out=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("05_training_curves.png", "05_weights.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 10_000
    with Image.open(tmp_path / "figures" / "05_training.gif") as gif:
        assert gif.n_frames == 3


@pytest.mark.slow
def test_moons_draws_decision_boundaries(tmp_path):
    result = run_script("05_visualize_training.py", "--dataset", "moons", "--epochs", "3", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "figures" / "05_decision_boundaries.png").is_file()


@pytest.mark.slow
def test_overfit_demo_shows_what_it_claims(visualize):
    """The demo's default settings, seed 0: each effect the lesson describes, asserted on its numbers."""
    args = visualize.parse_args(["--demo", "overfit"])
    settings = {"hidden": args.hidden, "epochs": args.epochs, "lr": args.lr}
    results = visualize.compare_regularisers(load_digits_standardised(), subset=100, seed=0, **settings)
    runs = {name: visualize.summarise(result["history"]) for name, result in results.items()}
    base, dropout, l2, l1, too_small = runs.values()
    assert base["train_loss"] < 0.01 and base["gap"] > 3 * visualize.MEMORISED and visualize.memorised(base)
    assert l2["val_loss"] < base["val_loss"] and l1["val_loss"] < base["val_loss"]
    assert dropout["lowest_val_loss"] < base["lowest_val_loss"]
    l1_result, base_result = results["L1 penalty 1e-4"], results["no regularisation"]
    assert l1_result["near_zero"] > 0.5 > 0.1 > base_result["near_zero"] and l1_result["exactly_zero"] < 0.01
    assert results["2 hidden units"]["n_train"] == 1293 and too_small["train_accuracy"] < 0.9
    assert too_small["train_loss"] > 0.5 and too_small["val_loss"] > 0.5
    # Underfitting, not undertraining or a dead unit: trained until flat, and both units still respond.
    losses = [h["train_loss"] for h in results["2 hidden units"]["history"]]
    assert abs(losses[-len(losses) // 4 - 1] - losses[-1]) < visualize.FLAT * losses[-1]
    assert results["2 hidden units"]["stuck"] == 0


@pytest.mark.slow
def test_overfit_demo_saves_its_figure(tmp_path):
    result = run_script("05_visualize_training.py", "--demo", "overfit", "--epochs", "5", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 hidden units" in result.stdout and "sign test" in result.stdout and "is its run's gap" in result.stdout
    assert (tmp_path / "figures" / "05_overfitting.png").stat().st_size > 10_000


def test_bad_checkpoint_is_one_line(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "bad.json").write_text("{")
    for name, message in (("nope.pt", "no such"), ("bad.pt", "bad.pt"), ("bad.json", "bad.json")):
        assert_one_line_error(run_in_process("05_visualize_training.py", "--checkpoint", str(tmp_path / name)),
                              message)


@pytest.mark.slow
@pytest.mark.parametrize("model, pictures", [("mlp", "first-layer units"), ("cnn", "first-layer filters")])
def test_checkpoint_of_either_kind_is_rebuilt_and_its_first_layer_drawn(tmp_path, visualize, model, pictures):
    from common.checkpoints import load_checkpoint

    build_model = load_lesson("04_neural_network_training").build_model

    checkpoint = tmp_path / f"{model}.pt"
    flags = ["--hidden", "16"] if model == "mlp" else ["--channels", "6", "8"]
    result = run_script("04_neural_network_training.py", "--model", model, "--epochs", "2", *flags,
                        "--out", str(checkpoint), out=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_script("05_visualize_training.py", "--checkpoint", str(checkpoint), out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{model.upper()} " in result.stdout and "2 epochs" in result.stdout
    kept = load_checkpoint(checkpoint)["best_epoch"]  # chosen by validation loss, as 04 keeps it
    assert f"the saved weights are epoch {kept}'s, the lowest validation loss" in result.stdout
    assert (tmp_path / "figures" / f"05_history_{model}.png").stat().st_size > 20_000

    network = build_model(load_checkpoint(checkpoint))
    images, title = visualize.first_layer_pictures(network, [8, 8])
    expected = (6, 5, 5) if model == "cnn" else (16, 8, 8)  # all 6 filters; 16 of the MLP's 16 units
    assert images.shape == expected and pictures in title
    first = network.features[0][0].weight[:, 0] if model == "cnn" else network.linear_layers()[0].weight.view(-1, 8, 8)
    np.testing.assert_array_equal(images, first.detach().numpy()[:16])
