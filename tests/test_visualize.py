"""Lesson 05: what the recorder records, and the headless figures and GIF."""

import math

import numpy as np
import pytest
from conftest import assert_one_line_error, run_script
from PIL import Image

from common.data import load_digits_dataset


@pytest.fixture(scope="module")
def visualize(lesson):
    return lesson("05_visualize_training")


@pytest.fixture(scope="module")
def digits():
    return load_digits_dataset(0)


def test_history_has_one_finite_entry_per_epoch(visualize, digits):
    recorder = visualize.train_and_record(digits, [16], epochs=3, lr=1e-2, quiet=True)
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
    frozen = visualize.train_and_record(digits, [16], epochs=2, lr=0.0, quiet=True)
    assert all(r == 0.0 for h in frozen.history for r in h["update_ratio"])
    moving = visualize.train_and_record(digits, [16], epochs=1, lr=1e-2, quiet=True)
    before, after = moving.snapshots[0], moving.snapshots[1]
    expected = [np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(after, before)]
    np.testing.assert_allclose(moving.history[0]["update_ratio"], expected, rtol=1e-6)


def test_headless_run_writes_pngs_and_an_animated_gif(tmp_path):
    result = run_script("05_visualize_training.py", "--epochs", "4", out=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("05_training_curves.png", "05_weights.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 10_000
    with Image.open(tmp_path / "figures" / "05_training.gif") as gif:
        assert gif.n_frames == 4


def test_moons_draws_decision_boundaries(tmp_path):
    result = run_script("05_visualize_training.py", "--dataset", "moons", "--epochs", "3", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "figures" / "05_decision_boundaries.png").is_file()


def test_overfit_demo_prints_the_gap():
    result = run_script("05_visualize_training.py", "--demo", "overfit", "--epochs", "5")
    assert result.returncode == 0, result.stderr
    assert "large, no regularisation" in result.stdout and "too small" in result.stdout


def test_bad_checkpoint_is_one_line(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "bad.json").write_text("{")
    for name, message in (("nope.pt", "no such"), ("bad.pt", "bad.pt"), ("bad.json", "bad.json")):
        assert_one_line_error(run_script("05_visualize_training.py", "--checkpoint", str(tmp_path / name)), message)
