"""Benchmark: the from-scratch NumPy MLP of lesson 03 against PyTorch (CPU) and scikit-learn.

Same architecture, same epochs, same batch size, same data, one run:
(a) lesson 03's NumPy MLP with its textbook Adam (written as its equations
read, no speed tricks), (b) PyTorch on the CPU with torch.optim.Adam,
(c) scikit-learn's MLPClassifier (solver="adam").
It also measures this machine's float32 matrix-multiply peak, and reports for
each: wall seconds, training samples per second (from the median epoch),
test accuracy and FLOP efficiency - the GFLOP/s achieved by the training
step's matrix products over that peak. No augmentation anywhere, so the three
train on identical data, taking turns epoch by epoch.

Not a test: run it by hand (and CI runs --quick on the bundled digits).

    python benchmarks/bench_mlp.py --data-dir data/mnist     # MNIST; falls back to digits if absent
    python benchmarks/bench_mlp.py --quick                   # digits, a few seconds
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from functools import partial
from pathlib import Path

import numpy as np
from lessons import load_lesson  # also puts the repository root on sys.path
from tqdm import tqdm

from common.cli import positive_int, run
from common.data import MNIST_DIR, load_dataset, normalisation


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 GEMM rate of NumPy's BLAS on this machine, in GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b  # warm up threads and caches
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def train_step_flops(sizes: list[int]) -> int:
    """Matrix-product FLOPs per training sample: forward 2nm and backward 4nm per layer,
    less the first layer's input gradient (2nm), which no library computes."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(6 * n * m for n, m in pairs) - 2 * pairs[0][0] * pairs[0][1]


class NumpyRun:
    """Lesson 03's network, hand-written Adam and cosine schedule, one epoch at a time."""

    def __init__(self, lesson, data, sizes, cfg):
        self.lesson, self.data, self.cfg = lesson, data, cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.model = lesson.MLP(sizes, "relu", self.rng)
        self.optimizer = lesson.Adam(self.model.arrays())
        self.Y_train = lesson.one_hot(data.y_train, data.n_classes)
        self.Y_val = lesson.one_hot(data.y_val, data.n_classes)
        total = cfg.epochs * -(-len(data.X_train) // cfg.batch_size)
        self.lr_at = partial(load_lesson("03_multilayer_perceptron").learning_rate, max_lr=cfg.lr, min_lr=0.0, warmup=0, total=total)
        self.step = 0

    def epoch(self) -> None:
        lesson = self.lesson
        self.step = lesson.train_epoch(self.model, lesson.softmax_cross_entropy, self.optimizer, self.data.X_train,
                                       self.Y_train, self.cfg.batch_size, self.rng, self.lr_at, self.step)
        lesson.evaluate(self.model, lesson.softmax_cross_entropy, self.data.X_val, self.Y_val)

    def accuracy(self) -> float:
        return float((self.model.forward(self.data.X_test).argmax(1) == self.data.y_test).mean())


class TorchRun:
    """The same network in PyTorch: torch.optim.Adam and the same cosine schedule."""

    def __init__(self, data, sizes, cfg):
        import torch

        _04 = load_lesson("04_neural_network_training")
        MLP, cosine_decay = _04.MLP, _04.cosine_decay

        self.torch, self.cfg = torch, cfg
        torch.manual_seed(cfg.seed)
        self.model = MLP(sizes)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        total = cfg.epochs * -(-len(data.X_train) // cfg.batch_size)
        self.scheduler = cosine_decay(self.optimizer, total)  # the same schedule
        self.X, self.y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
        self.X_val, self.y_val = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)
        self.X_test, self.y_test = torch.from_numpy(data.X_test), data.y_test

    def epoch(self) -> None:
        torch, model = self.torch, self.model
        model.train()
        for batch in torch.randperm(len(self.X)).split(self.cfg.batch_size):
            self.optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(self.X[batch]), self.y[batch]).backward()
            self.optimizer.step()
            self.scheduler.step()
        with torch.no_grad():  # the same per-epoch validation pass the NumPy run makes
            model.eval()
            torch.nn.functional.cross_entropy(model(self.X_val), self.y_val)

    def accuracy(self) -> float:
        with self.torch.no_grad():
            return float((self.model(self.X_test).argmax(1).numpy() == self.y_test).mean())


class SklearnRun:
    """scikit-learn's MLPClassifier, solver adam (constant learning rate), one partial_fit per epoch."""

    def __init__(self, data, sizes, cfg):
        from sklearn.neural_network import MLPClassifier

        self.data = data
        self.classifier = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="adam",
                                        batch_size=cfg.batch_size, learning_rate_init=cfg.lr, alpha=0.0,
                                        shuffle=True, random_state=cfg.seed)

    def epoch(self) -> None:
        self.classifier.partial_fit(self.data.X_train, self.data.y_train, classes=np.arange(self.data.n_classes))
        self.classifier.predict_proba(self.data.X_val)

    def accuracy(self) -> float:
        return float(self.classifier.score(self.data.X_test, self.data.y_test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=MNIST_DIR, help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--quick", action="store_true", help="bundled digits, few epochs (what CI runs)")
    parser.add_argument("--epochs", type=positive_int, help="epochs (default: MNIST 10, digits 20)")
    parser.add_argument("--batch-size", type=positive_int, default=512, help="mini-batch size for all three")
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=[512, 128], help="hidden layer sizes")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    cfg = parser.parse_args()

    dataset = "digits"
    if not cfg.quick:
        if all((cfg.data_dir / name).is_file() for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")):
            dataset = "mnist"
        else:
            print(f"MNIST not found in {cfg.data_dir}: falling back to the bundled digits.")
    data = load_dataset(dataset, cfg.seed, cfg.data_dir)
    data.standardise(*normalisation(data.X_train))
    cfg.epochs = cfg.epochs or (10 if dataset == "mnist" else 20)
    cfg.batch_size = min(cfg.batch_size, len(data.X_train))
    cfg.lr = 3e-3
    sizes = [data.n_features, *cfg.hidden, data.n_classes]
    flops = train_step_flops(sizes)
    threads = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count()))

    print(f"{data.describe()}\nnetwork {'-'.join(map(str, sizes))}, Adam lr {cfg.lr}, batch {cfg.batch_size}, "
          f"{cfg.epochs} epochs; {flops / 1e6:.2f} MFLOP of matrix products per training sample")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"(threads {threads}), Python {platform.python_version()}, NumPy {np.__version__}")
    peak = matmul_peak_gflops()
    print(f"measured float32 matmul peak (NumPy, 2048x2048): {peak:.1f} GFLOP/s")

    runs = {"NumPy (lesson 03)": NumpyRun(load_lesson("03_multilayer_perceptron"), data, sizes, cfg),
            "PyTorch CPU": TorchRun(data, sizes, cfg),
            "scikit-learn": SklearnRun(data, sizes, cfg)}
    # This machine's speed drifts over minutes (shared cores), so the three take turns epoch by epoch:
    # each sees the same fast and slow spells, and the median epoch time sets the throughput.
    times: dict[str, list[float]] = {name: [] for name in runs}
    peaks = [peak]
    for _ in tqdm(range(cfg.epochs), desc="epochs, in turns", leave=False):
        for name, run_ in runs.items():
            times[name].append(_timed(run_.epoch))
        peaks.append(matmul_peak_gflops(repeats=2))
    peak = max(peaks)
    print(f"best float32 matmul peak over the run: {peak:.1f} GFLOP/s\n")

    print(f"| {'implementation':<18} | wall s | samples/s | test acc | GFLOP/s | of peak |")
    print(f"|{'-' * 20}|-------:|----------:|---------:|--------:|--------:|")
    rates, results = {}, {}
    for name, run_ in runs.items():
        rates[name] = len(data.X_train) / float(np.median(times[name]))
        results[name] = run_.accuracy()
        gflops = rates[name] * flops / 1e9
        print(f"| {name:<18} | {sum(times[name]):6.1f} | {rates[name]:9,.0f} | {results[name]:8.2%} | {gflops:7.1f} | "
              f"{gflops / peak:7.0%} |")
    numpy_name, torch_name, sk_name = results
    vs_torch, vs_sklearn = rates[numpy_name] / rates[torch_name], rates[numpy_name] / rates[sk_name]
    efficiency = rates[numpy_name] * flops / 1e9 / peak
    better_or_equal = results[numpy_name] >= results[sk_name]
    print(f"\nNumPy / PyTorch throughput: {vs_torch:.2f}x (target >= 1.0x)")
    print(f"NumPy / scikit-learn throughput: {vs_sklearn:.2f}x (target >= 2x), accuracy "
          f"{'equal or better' if better_or_equal else 'lower'}")
    print(f"NumPy FLOP efficiency: {efficiency:.0%} of the measured peak (target >= 40% at batch >= 128)")
    if dataset == "digits":
        print("(digits are tiny: 1,293 samples of 64 pixels; the matrix products are too small for the targets, "
              "which are meant for MNIST)")


if __name__ == "__main__":
    run(main)
