"""Benchmark: run the lessons as a learner would and check the README's speed and accuracy targets.

Each lesson runs in a subprocess, headless, timed from the outside (wall
seconds, start-up included); accuracies are read back from the JSON records
the lessons write. Targets:

    04 on digits (default flags)       >= 97.5% test accuracy in <= 10 s wall
    05 default run                      <= 15 s wall, GIF included
    03 on MNIST (default MNIST flags)   >= 98.3% test accuracy in <= 30 s wall
    04 on MNIST (default MNIST flags)   >= 98.3% test accuracy

Not a test. MNIST rows need --data-dir; --quick runs the digits rows only.

    python benchmarks/targets.py --data-dir data/mnist
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_lesson(script: str, *args: str) -> float:
    """Run one lesson headless; return its wall time in seconds (raises if it fails)."""
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / script), "--no-show", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{script} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--quick", action="store_true", help="digits rows only")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "digits.pt"
        seconds = run_lesson("04_neural_network_training.py", "--out", str(out))
        accuracy = json.loads(out.with_suffix(".json").read_text())["test_accuracy"]
        rows.append(("04 digits", seconds, accuracy, seconds <= 10 and accuracy >= 0.975, ">= 97.5% in <= 10 s"))

        seconds = run_lesson("05_visualize_training.py")
        rows.append(("05 default", seconds, None, seconds <= 15, "<= 15 s"))

        if args.data_dir and not args.quick:
            data = ["--dataset", "mnist", "--data-dir", str(args.data_dir)]
            seconds = run_lesson("03_multilayer_perceptron.py", "--skip-toys", *data)
            record = json.loads((ROOT / "models" / "03_mlp_mnist_cross_entropy_relu.json").read_text())
            accuracy = record["test_accuracy"]
            rows.append(("03 MNIST", seconds, accuracy, seconds <= 30 and accuracy >= 0.983, ">= 98.3% in <= 30 s"))

            out = Path(tmp) / "mnist.pt"
            seconds = run_lesson("04_neural_network_training.py", *data, "--out", str(out))
            accuracy = json.loads(out.with_suffix(".json").read_text())["test_accuracy"]
            rows.append(("04 MNIST", seconds, accuracy, accuracy >= 0.983, ">= 98.3%"))

    print(f"| {'run':<10} | wall s | test acc | target              | met |")
    print(f"|{'-' * 12}|-------:|---------:|---------------------|-----|")
    for name, seconds, accuracy, met, target in rows:
        shown = f"{accuracy:.2%}" if accuracy is not None else "-"
        print(f"| {name:<10} | {seconds:6.1f} | {shown:>8} | {target:<19} | {'yes' if met else 'NO':<3} |")


if __name__ == "__main__":
    main()
