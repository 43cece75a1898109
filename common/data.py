"""Data sets for the series, all returned in the same shape. Plumbing, except the splits, which lesson 03
explains (train / validation / test), and MNIST's IDX format, read by hand here.

* the logic gates AND / OR / XOR (lesson 02 and 03);
* small 2-D problems from scikit-learn (``make_moons``) and a noisy sine curve;
* scikit-learn's bundled 8x8 digits (no download): the default real data;
* MNIST, read from the four standard IDX ``.gz`` files in a directory of your choice.

Images come back flattened, as float32 in [0, 1] (digits' 0-16 divided by 16,
MNIST's 0-255 divided by 255). Every split is deterministic for a given seed.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import shutil
import struct
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import DATA_DIR, UserError

MNIST_DIR = DATA_DIR / "mnist"
MNIST_FILES = {
    # file name: (md5 of the standard distribution, IDX magic number)
    "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 2051),
    "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", 2049),
    "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", 2051),
    "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", 2049),
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

LOGIC_GATES = {
    "AND": [0, 0, 0, 1],
    "OR": [0, 1, 1, 1],
    "XOR": [0, 1, 1, 0],
}


class DataError(UserError):
    """A data file is missing or malformed."""


@dataclass
class Dataset:
    """Train / validation / test splits of one data set, plus what describes it."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None = None  # (height, width) for images
    class_names: tuple[str, ...] = ()

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def standardise(self, mean: float, std: float) -> None:
        """x' = (x - mean) / std on every split, with the training split's statistics (see normalisation)."""
        for split in ("X_train", "X_val", "X_test"):
            setattr(self, split, ((getattr(self, split) - mean) / std).astype(np.float32))

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.X_train)} train / {len(self.X_val)} validation / "
            f"{len(self.X_test)} test samples, {self.n_features} features, {self.n_classes} classes"
        )


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The four inputs (0,0), (0,1), (1,0), (1,1) and the gate's outputs."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array(LOGIC_GATES[name], dtype=np.float64)


def noisy_sine(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of y = sin(x) + noise on x in [-pi, pi], as (n, 1) columns."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-np.pi, np.pi, n))
    y = np.sin(x) + noise * rng.normal(size=n)
    return x[:, None], y[:, None]


def _three_way_split(name, X, y, seed, test_size, val_size, **extra) -> Dataset:
    # scikit-learn is imported where it is used: it takes seconds to import, and MNIST runs never need it.
    from sklearn.model_selection import train_test_split

    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size, random_state=seed, stratify=y_rest
    )
    return Dataset(name, X_train, y_train, X_val, y_val, X_test, y_test, **extra)


def load_moons(seed: int, n: int = 1000, noise: float = 0.2) -> Dataset:
    """scikit-learn's two interleaving half-moons: 2 features, 2 classes, not linearly separable."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return _three_way_split("moons", X.astype(np.float32), y, seed, 0.2, 0.2, class_names=("0", "1"))


def load_digits_dataset(seed: int) -> Dataset:
    """scikit-learn's bundled 1797 8x8 digits (values 0-16, scaled to [0, 1]); 20% test, 10% validation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    return _three_way_split(
        "digits", X, digits.target, seed, 0.2, 0.1,
        image_shape=(8, 8), class_names=tuple(str(c) for c in range(10)),
    )


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one gzipped IDX file (the MNIST format) into a uint8 array.

    The header is a big-endian int32 magic number (2049 for labels, 2051 for
    images) followed by one int32 per dimension; then the raw bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: not a readable gzip file ({error})") from None
    if len(raw) < 8:
        raise DataError(f"{path}: too short to hold an IDX header ({len(raw)} bytes)")
    magic, count = struct.unpack(">ii", raw[:8])
    if magic != expected_magic:
        raise DataError(f"{path}: wrong magic number {magic} (expected {expected_magic})")
    n_dims = magic & 0xFF
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise DataError(f"{path}: truncated header")
    shape = struct.unpack(f">{n_dims}i", raw[4:header_size])
    if any(n < 0 for n in shape):
        raise DataError(f"{path}: its header gives the negative dimensions {shape}")
    expected = math.prod(shape)  # Python's integers: np.prod would wrap around past 2**63
    payload = len(raw) - header_size
    if payload != expected:
        raise DataError(f"{path}: header promises {expected} bytes of data for shape {shape}, file holds {payload}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _read_pair(data_dir: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"
    images = read_idx(data_dir / images_name, MNIST_FILES[images_name][1])
    labels = read_idx(data_dir / labels_name, MNIST_FILES[labels_name][1])
    if len(images) != len(labels):
        raise DataError(f"{data_dir / images_name}: {len(images)} images but {labels_name} has {len(labels)} labels")
    if labels.max(initial=0) > 9:
        raise DataError(f"{data_dir / labels_name}: label {labels.max()} is not a digit 0-9")
    return images, labels


def load_mnist(data_dir: Path, seed: int, val_size: int = 5000) -> Dataset:
    """MNIST from the four IDX files in ``data_dir``; ``val_size`` training images become the validation set."""
    data_dir = Path(data_dir)
    missing = [name for name in MNIST_FILES if not (data_dir / name).is_file()]
    if missing:
        raise DataError(
            f"MNIST not found: {data_dir} lacks {', '.join(missing)}. Put the four IDX .gz files there "
            f"(or pass --data-dir DIR, or add --download to fetch them into {data_dir})"
        )
    train_images, train_labels = _read_pair(data_dir, "train")
    test_images, test_labels = _read_pair(data_dir, "t10k")
    if len(train_images) <= val_size:
        raise DataError(f"{data_dir}: only {len(train_images)} training images, need more than {val_size}")
    if len(test_images) == 0:
        raise DataError(f"{data_dir}: the test files hold no images")
    if test_images.shape[1:] != train_images.shape[1:]:
        raise DataError(f"{data_dir}: test images are {test_images.shape[1]}x{test_images.shape[2]} pixels, "
                        f"training images {train_images.shape[1]}x{train_images.shape[2]}")
    to_float = lambda images: (images.reshape(len(images), -1) / np.float32(255)).astype(np.float32)  # noqa: E731
    order = np.random.default_rng(seed).permutation(len(train_images))
    val, train = order[:val_size], order[val_size:]
    X, X_test = to_float(train_images), to_float(test_images)
    return Dataset(
        "mnist", X[train], train_labels[train].astype(np.int64), X[val], train_labels[val].astype(np.int64),
        X_test, test_labels.astype(np.int64),
        image_shape=tuple(train_images.shape[1:]), class_names=tuple(str(c) for c in range(10)),
    )


def download_mnist(data_dir: Path = MNIST_DIR) -> None:
    """Fetch the four MNIST files into ``data_dir``, checking each md5; skip files already there."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, (md5, _) in MNIST_FILES.items():
        target = data_dir / name
        if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            continue
        for mirror in MNIST_MIRRORS:
            try:
                with urllib.request.urlopen(mirror + name, timeout=30) as response:
                    content = response.read()
            except OSError:
                continue
            if hashlib.md5(content).hexdigest() == md5:
                with tempfile.NamedTemporaryFile(dir=data_dir, delete=False) as tmp:
                    tmp.write(content)
                shutil.move(tmp.name, target)
                print(f"  downloaded {target}")
                break
        else:
            raise DataError(
                f"could not download {name} (offline?). "
                f"Get the four MNIST IDX .gz files by hand and put them in {data_dir}"
            )


DATASETS = ("digits", "moons", "mnist")


def load_dataset(name: str, seed: int, data_dir: Path | None = None, download: bool = False) -> Dataset:
    """``digits`` (bundled), ``moons`` (generated) or ``mnist`` (from ``data_dir``, default ``data/mnist``)."""
    if name == "digits":
        return load_digits_dataset(seed)
    if name == "moons":
        return load_moons(seed)
    if name == "mnist":
        data_dir = Path(data_dir) if data_dir else MNIST_DIR
        if download:
            download_mnist(data_dir)
        return load_mnist(data_dir, seed)
    raise ValueError(f"unknown data set {name!r}")


def normalisation(X_train: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the training pixels, to standardise every split the same way.

    Computed on the training split only: the validation and test sets must not
    leak into anything the model learns from.
    """
    return float(X_train.mean()), float(X_train.std())

