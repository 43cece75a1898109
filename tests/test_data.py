import gzip
import json
import struct

import numpy as np
import pytest

from common import UserError
from common.data import DataError, load_digits_dataset, load_mnist, normalisation, read_idx
from common.records import read_record, write_record


def write_idx(path, magic, shape, payload=None):
    """A gzipped IDX file as MNIST stores it: big-endian magic, dimensions, bytes."""
    payload = bytes(int(np.prod(shape))) if payload is None else payload
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(f">i{len(shape)}i", magic, *shape) + payload)


def write_tiny_mnist(folder, n_train=12, n_test=4):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 2051, (n, 28, 28),
                  rng.integers(0, 256, n * 28 * 28, dtype=np.uint8).tobytes())
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 2049, (n,), (np.arange(n) % 10).astype(np.uint8).tobytes())


def test_read_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.gz", 2051, images.shape, images.tobytes())
    assert np.array_equal(read_idx(tmp_path / "x.gz", 2051), images)


def test_load_mnist_from_tiny_files(tmp_path):
    write_tiny_mnist(tmp_path)
    data = load_mnist(tmp_path, seed=0, val_size=2)
    assert (len(data.X_train), len(data.X_val), len(data.X_test)) == (10, 2, 4)
    assert data.X_train.shape[1] == 784 and data.X_train.dtype == np.float32
    assert 0.0 <= data.X_train.min() and data.X_train.max() <= 1.0
    assert data.image_shape == (28, 28) and data.n_classes == 10
    assert sorted(np.r_[data.y_train, data.y_val].tolist()) == sorted((np.arange(12) % 10).tolist())


@pytest.mark.parametrize("case, message", [
    ("truncated", "header promises"),
    ("wrong_magic", "wrong magic number"),
    ("not_gzip", "not a readable gzip"),
    ("empty", "too short"),
    ("negative", "negative dimensions"),
    ("overflowing", "header promises 18446744073709551616 bytes"),  # 2**64: np.prod wrapped it to 0
])
def test_malformed_idx_is_named(tmp_path, case, message):
    path = tmp_path / "bad.gz"
    if case == "truncated":
        write_idx(path, 2051, (3, 28, 28), bytes(100))
    elif case == "wrong_magic":
        write_idx(path, 1234, (3,), bytes(3))
    elif case == "negative":
        write_idx(path, 2051, (-1, -28, 28), bytes(16))
    elif case == "overflowing":
        write_idx(path, 2051, (4194304, 2097152, 2097152), bytes(16))
    elif case == "not_gzip":
        path.write_bytes(b"this is not gzip at all")
    else:
        with gzip.open(path, "wb") as f:
            f.write(b"\0\0")
    with pytest.raises(DataError, match=message) as error:
        read_idx(path, 2051)
    assert str(path) in str(error.value)


def test_count_mismatch_between_images_and_labels(tmp_path):
    write_tiny_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", 2049, (11,), bytes(11))
    with pytest.raises(DataError, match="12 images but .* 11 labels"):
        load_mnist(tmp_path, seed=0, val_size=2)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte.gz") as error:
        load_mnist(tmp_path, seed=0)
    assert str(tmp_path) in str(error.value)


def test_digits_split_is_deterministic_and_disjoint():
    a, b = load_digits_dataset(seed=3), load_digits_dataset(seed=3)
    assert np.array_equal(a.X_test, b.X_test)
    assert len(a.X_train) + len(a.X_val) + len(a.X_test) == 1797
    assert len(a.X_test) == 360 and a.image_shape == (8, 8) and a.X_train.max() <= 1.0
    train_rows = {row.tobytes() for row in a.X_train}
    assert sum(row.tobytes() in train_rows for row in a.X_test) < 5  # digits has a few duplicate images


def test_normalisation_uses_the_training_split():
    mean, std = normalisation(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert (mean, std) == (0.5, 0.5)


def test_record_round_trip_and_rejections(tmp_path):
    record = {"dataset": "digits", "history": [
        {"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5, "seconds": 0.1}]}
    write_record(tmp_path / "r.json", record)
    assert read_record(tmp_path / "r.json") == record
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="not a training record"):
        read_record(tmp_path / "bad.json")
    (tmp_path / "nan.json").write_text(json.dumps({**record, "history": [{**record["history"][0], "val_loss": float("nan")}]}))
    with pytest.raises(UserError, match="not finite"):
        read_record(tmp_path / "nan.json")
    with pytest.raises(UserError, match="no such file"):
        read_record(tmp_path / "missing.json")
