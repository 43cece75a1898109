"""Lesson 04: metrics against scikit-learn, checkpoints that round-trip, save atomically and load safely."""

import json

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_script
from sklearn import metrics as skm

from common.nets import CHECKPOINT_FORMAT, MLP, CheckpointError, build_model, load_checkpoint, save_checkpoint


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


def small_checkpoint(model: MLP, **extra) -> dict:
    return {"format": CHECKPOINT_FORMAT, "state_dict": model.state_dict(),
            "architecture": {"sizes": model.sizes, "dropout": model.dropout},
            "normalisation": {"mean": 0.0, "std": 1.0},
            "class_names": ["0", "1", "2"], "dataset": "digits", "input_shape": [2, 2],
            "hyperparameters": {"seed": 0}, "history": [], "test_metrics": {"accuracy": 0.5}, **extra}


def test_checkpoint_round_trip_gives_same_predictions(tmp_path):
    torch.manual_seed(0)
    model = MLP([4, 8, 3], dropout=0.2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    for _ in range(5):  # a few real training steps, so the weights are not the initial ones
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    save_checkpoint(tmp_path / "m.pt", small_checkpoint(model))
    restored = build_model(load_checkpoint(tmp_path / "m.pt"))
    model.eval()
    assert torch.equal(model(x), restored(x))


def test_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_checkpoint(path, small_checkpoint(MLP([4, 3])))
    before = path.read_bytes()

    def crash(obj, f):
        with open(f, "wb") as handle:
            handle.write(b"half a checkpoint")
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


def test_training_run_writes_checkpoint_and_record(tmp_path, lesson):
    out = tmp_path / "run.pt"
    result = run_script("04_neural_network_training.py", "--epochs", "2", "--hidden", "32", "--lr", "0.01",
                        "--out", str(out))
    assert result.returncode == 0, result.stderr
    checkpoint = load_checkpoint(out)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["dataset"] == "digits" and record["layer_sizes"] == [64, 32, 10]
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    assert set(record["history"][0]) >= {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
    # The stored accuracy is what the stored model really scores on the test split.
    from common.data import load_digits_dataset
    from common.nets import predict_proba

    data = load_digits_dataset(checkpoint["hyperparameters"]["seed"])
    norm = checkpoint["normalisation"]
    predictions = predict_proba(build_model(checkpoint), (data.X_test - norm["mean"]) / norm["std"]).argmax(1)
    assert record["test_accuracy"] == pytest.approx(float((predictions == data.y_test).mean()))
    assert record["test_accuracy"] == checkpoint["test_metrics"]["accuracy"] > 0.8


def test_divergence_stops_without_overwriting(tmp_path):
    out = tmp_path / "keep.pt"
    out.write_bytes(b"the previous checkpoint")
    result = run_script("04_neural_network_training.py", "--optimizer", "sgd", "--lr", "1e12", "--epochs", "2",
                        "--out", str(out))
    assert_one_line_error(result, "smaller --lr")
    assert out.read_bytes() == b"the previous checkpoint"


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--lr", "0"), ("--lr", "-0.1"), ("--dropout", "1"),
                                         ("--batch-size", "-5"), ("--weight-decay", "-1")])
def test_nonsense_values_are_refused(flag, value):
    assert_one_line_error(run_script("04_neural_network_training.py", flag, value), flag)


def test_missing_accelerator_is_one_line():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_one_line_error(run_script("04_neural_network_training.py", "--device", "cuda"), "not available")
