"""Lesson 04: metrics against scikit-learn, checkpoints that round-trip, save atomically and load safely."""

import json

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, load_lesson, run_in_process, run_script
from sklearn import metrics as skm

from common.checkpoints import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint, save_checkpoint

CNN, MLP, build_model = load_lesson("04_neural_network_training").CNN, load_lesson("04_neural_network_training").MLP, load_lesson("04_neural_network_training").build_model


@pytest.fixture(scope="module")
def training(lesson):
    return lesson("04_neural_network_training")


def test_metrics_equal_sklearn(training):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 5, 300))
    y_pred[y_pred == 4] = 3  # class 4 never predicted: precision must be 0, not NaN
    matrix = training.confusion_matrix(y_true, y_pred, 5)
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(y_true, y_pred, labels=range(5)))
    precision, recall, f1 = training.precision_recall_f1(matrix)
    p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=range(5), zero_division=0)
    np.testing.assert_allclose(precision, p)
    np.testing.assert_allclose(recall, r)
    np.testing.assert_allclose(f1, f)
    report = training.test_report(y_true, y_pred, tuple("abcde"))
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))


ONE_EPOCH = {"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4, "seconds": 0.1}


def small_checkpoint(model: MLP | CNN, fmt: str = CHECKPOINT_FORMAT, **extra) -> dict:
    return {"format": fmt, "state_dict": model.state_dict(), "architecture": model.architecture(),
            "normalisation": {"mean": 0.0, "std": 1.0},
            "class_names": ["0", "1", "2"], "dataset": "digits",
            "input_shape": model.input_shape if isinstance(model, CNN) else [2, 2],
            "hyperparameters": {"seed": 0}, "history": [ONE_EPOCH], "test_metrics": {"accuracy": 0.5}, **extra}


@pytest.mark.parametrize("make, n_features", [(lambda: MLP([4, 8, 3], dropout=0.2), 4),
                                              (lambda: CNN([4, 4], 3, [4, 5], kernel=3, dropout=0.2), 16)],
                         ids=["mlp", "cnn"])
def test_checkpoint_round_trip_gives_same_predictions(tmp_path, make, n_features):
    torch.manual_seed(0)
    model = make()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    x, y = torch.randn(32, n_features), torch.randint(0, 3, (32,))
    for _ in range(5):  # a few real training steps: weights and batch norm's running statistics move
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    save_checkpoint(tmp_path / "m.pt", small_checkpoint(model))
    restored = build_model(load_checkpoint(tmp_path / "m.pt"))
    assert type(restored) is type(model) and restored.architecture() == model.architecture()
    model.eval()
    assert torch.equal(model(x), restored(x))


def test_checkpoints_from_before_the_cnn_still_load(tmp_path):
    """Format "nn-tutorial-mlp/1": the architecture has no "kind" and is always an MLP."""
    model = MLP([4, 8, 3]).eval()
    legacy = small_checkpoint(model, fmt="nn-tutorial-mlp/1")
    legacy["architecture"] = {"sizes": [4, 8, 3], "dropout": 0.0, "activation": "relu"}
    save_checkpoint(tmp_path / "old.pt", legacy)
    restored = build_model(load_checkpoint(tmp_path / "old.pt"))
    x = torch.randn(5, 4)
    assert isinstance(restored, MLP) and torch.equal(model(x), restored(x))


def test_unknown_architecture_kind_is_refused(tmp_path):
    checkpoint = small_checkpoint(MLP([4, 3]))
    checkpoint["architecture"]["kind"] = "transformer"
    with pytest.raises(CheckpointError, match="unknown architecture kind"):
        build_model(checkpoint)


def test_multiply_adds_counted_by_hand(training):
    cpu = torch.device("cpu")
    assert training.multiply_adds(MLP([64, 32, 10]), 64, cpu) == 64 * 32 + 32 * 10
    # 8x8 image: conv 1->4 (5x5) at 8x8 positions, pool to 4x4, conv 4->8 at 4x4, pool to 2x2, linear 32->10
    cnn = CNN([8, 8], 10, [4, 8], kernel=5)
    assert training.multiply_adds(cnn, 64, cpu) == 4 * 25 * 64 + 8 * 4 * 25 * 16 + 8 * 2 * 2 * 10


def bar_images(n: int, blank: float) -> torch.Tensor:
    """n copies of an upright bar, centred in a 28x28 image of ``blank`` pixels, flattened."""
    images = torch.full((n, 28, 28), blank)
    images[:, 8:20, 12:16] = 2.0
    return images.view(n, -1)


def ink_moments(images: torch.Tensor, blank: float) -> tuple[torch.Tensor, ...]:
    """Per image: the ink's total, its centre (row, col) relative to the image centre, and its tilt in degrees."""
    ink = images.view(-1, 28, 28) - blank
    rows, cols = torch.arange(28.0).view(28, 1) - 13.5, torch.arange(28.0) - 13.5
    mass = ink.sum((1, 2))
    r, c = (ink * rows).sum((1, 2)) / mass, (ink * cols).sum((1, 2)) / mass
    rr, cc, rc = (((ink * a * b).sum((1, 2)) / mass) for a, b in ((rows, rows), (cols, cols), (rows, cols)))
    tilt = 0.5 * torch.atan2(2 * (rc - r * c), (rr - r * r) - (cc - c * c))  # long axis vs. the vertical
    return mass, r, c, tilt.rad2deg()


def test_augment_shifts_without_turning(training):
    torch.manual_seed(0)
    blank = -0.4  # a standardised empty pixel is negative
    images = bar_images(300, blank)
    assert torch.equal(training.augment(images, (28, 28), 0.0, 0.0, blank), images)  # no jitter asked: unchanged
    moved = training.augment(images, (28, 28), max_shift=2.0, max_degrees=0.0, blank=blank)
    mass, r, c, tilt = ink_moments(moved, blank)
    assert torch.allclose(mass, ink_moments(images, blank)[0])  # moved, never cut or smeared away
    assert torch.allclose(moved.view(-1, 28, 28)[:, 0], torch.tensor(blank))  # pixels moved in are blank
    assert r.abs().max() <= 2.0 + 1e-4 and c.abs().max() <= 2.0 + 1e-4  # at most --shift pixels each way
    assert r.min() < -1.5 and r.max() > 1.5 and c.min() < -1.5 and c.max() > 1.5  # both ways, all sizes
    assert tilt.abs().max() < 1e-3


def test_augment_turns_without_shifting(training):
    torch.manual_seed(0)
    blank = -0.4
    turned = training.augment(bar_images(300, blank), (28, 28), max_shift=0.0, max_degrees=10.0, blank=blank)
    _, r, c, tilt = ink_moments(turned, blank)
    assert r.abs().max() < 0.05 and c.abs().max() < 0.05  # turned about the image centre
    assert tilt.abs().max() <= 10.5 and tilt.min() < -7 and tilt.max() > 7  # up to --rotate degrees, both ways


def test_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_checkpoint(path, small_checkpoint(MLP([4, 3])))
    before = path.read_bytes()

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, small_checkpoint(MLP([4, 3])))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


class Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_objects_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "code_ran"
    torch.save(small_checkpoint(MLP([4, 3]), extra=Payload(marker)), tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_foreign_and_truncated_files_are_refused(tmp_path):
    save_checkpoint(tmp_path / "good.pt", small_checkpoint(MLP([4, 3])))
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "good.pt").read_bytes()[:300])
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    (tmp_path / "text.pt").write_text("hello")
    for name in ("truncated.pt", "foreign.pt", "text.pt", "missing.pt"):
        with pytest.raises(CheckpointError):
            load_checkpoint(tmp_path / name)


@pytest.mark.parametrize("flags, architecture", [
    (["--hidden", "32", "--lr", "0.01"], {"kind": "mlp", "sizes": [64, 32, 10]}),
    pytest.param(["--model", "cnn", "--channels", "8", "16", "--lr", "0.01", "--shift", "0.5", "--rotate", "5"],
                 {"kind": "cnn", "channels": [8, 16], "kernel": 5, "input_shape": [8, 8]}, marks=pytest.mark.slow),
], ids=["mlp", "cnn"])
def test_training_run_writes_checkpoint_and_record(tmp_path, flags, architecture):
    out = tmp_path / "run.pt"
    result = run_script("04_neural_network_training.py", "--epochs", "2", *flags, "--out", str(out), out=tmp_path)
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(out)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["dataset"] == "digits" and record["architecture"].items() >= architecture.items()
    assert checkpoint["architecture"] == record["architecture"]
    assert record["parameters"] == sum(p.numel() for p in build_model(checkpoint).parameters())
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    assert set(record["history"][0]) >= {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
    # The stored accuracy is what the stored model really scores on the test split.
    from common.data import load_digits_dataset
    predict_proba = load_lesson("04_neural_network_training").predict_proba

    data = load_digits_dataset(checkpoint["hyperparameters"]["seed"])
    norm = checkpoint["normalisation"]
    predictions = predict_proba(build_model(checkpoint), (data.X_test - norm["mean"]) / norm["std"]).argmax(1)
    assert record["test_accuracy"] == pytest.approx(float((predictions == data.y_test).mean()))
    assert record["test_accuracy"] == checkpoint["test_metrics"]["accuracy"] > 0.8


@pytest.mark.parametrize("flags", [["--optimizer", "sgd", "--lr", "1e12", "--epochs", "2"],
                                   ["--epochs", "1", "--batch-size", "100000", "--lr", "1e30"]],
                         ids=["loss", "evaluation"])
@pytest.mark.slow
def test_divergence_stops_without_overwriting(tmp_path, flags):
    """A loss that blows up, or weights that blow up on the epoch's last step (seen only by the evaluation)."""
    out = tmp_path / "keep.pt"
    save_checkpoint(out, small_checkpoint(MLP([4, 3])))
    before = out.read_bytes()
    assert_one_line_error(run_script("04_neural_network_training.py", *flags, "--out", str(out)), "smaller --lr")
    assert out.read_bytes() == before


def test_a_file_that_is_not_a_04_checkpoint_is_never_replaced(tmp_path):
    out = tmp_path / "keep.pt"
    out.write_bytes(b"something else")
    assert_one_line_error(run_in_process("04_neural_network_training.py", "--epochs", "1", "--out", str(out)),
                          "refusing to replace it")
    assert out.read_bytes() == b"something else"


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--lr", "0"), ("--lr", "-0.1"), ("--dropout", "1"),
                                         ("--batch-size", "-5"), ("--weight-decay", "-1")])
def test_nonsense_values_are_refused(flag, value):
    assert_one_line_error(run_in_process("04_neural_network_training.py", flag, value), flag)


def test_missing_accelerator_is_one_line():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_one_line_error(run_in_process("04_neural_network_training.py", "--device", "cuda"), "not available")
