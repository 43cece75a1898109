"""Benchmark: run the lessons as a learner would and check the README's speed and accuracy targets.

Each lesson runs in a subprocess, headless, timed from the outside (wall
seconds, start-up included); accuracies are read back from the JSON records
the lessons write. Targets are on validation accuracy (of the epoch the lesson
keeps), the split the settings were chosen on; test accuracy is reported once,
beside them, as the honest estimate:

    04 on digits (default flags)       >= 96% validation accuracy in <= 10 s wall
    05 default run                      <= 15 s wall, GIF included
    03 on MNIST (default MNIST flags)   >= 98.3% validation accuracy in <= 30 s wall
    04 on MNIST (default MNIST flags)   >= 98.3% validation accuracy

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


def run_lesson(script: str, *args: str, out: Path) -> float:
    """Run one lesson headless, writing into ``out``; return its wall time in seconds (raises if it fails)."""
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "NN_TUTORIAL_OUTPUT": str(out)}
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
        out = Path(tmp)
        seconds = run_lesson("04_neural_network_training.py", out=out)
        rows.append(("04 digits", seconds, *accuracies(out / "models" / "04_mlp_digits.json"), 0.96, 10))
        rows.append(("05 default", run_lesson("05_visualize_training.py", out=out), None, None, None, 15))
        if args.data_dir and not args.quick:
            data = ["--dataset", "mnist", "--data-dir", str(args.data_dir)]
            seconds = run_lesson("03_multilayer_perceptron.py", "--skip-toys", *data, out=out)
            record = out / "models" / "03_mlp_mnist_cross_entropy_relu.json"
            rows.append(("03 MNIST", seconds, *accuracies(record), 0.983, 30))
            seconds = run_lesson("04_neural_network_training.py", *data, out=out)
            rows.append(("04 MNIST", seconds, *accuracies(out / "models" / "04_mlp_mnist.json"), 0.983, None))

    print(f"| {'run':<10} | wall s | val acc | test acc | target                  | met |")
    print(f"|{'-' * 12}|-------:|--------:|---------:|-------------------------|-----|")
    for name, seconds, val, test, min_val, max_seconds in rows:
        target = " in ".join(part for part in (f">= {min_val:.1%} val" if min_val else "",
                                               f"<= {max_seconds} s" if max_seconds else "") if part)
        met = (min_val is None or val >= min_val) and (max_seconds is None or seconds <= max_seconds)
        shown = [f"{v:.2%}" if v is not None else "-" for v in (val, test)]
        print(f"| {name:<10} | {seconds:6.1f} | {shown[0]:>7} | {shown[1]:>8} | {target:<23} | {'yes' if met else 'NO':<3} |")


def accuracies(record_path: Path) -> tuple[float, float]:
    """Validation accuracy of the epoch the lesson kept (04: its best epoch; 03: the last), and test accuracy."""
    record = json.loads(record_path.read_text())
    kept = record.get("best_epoch", len(record["history"]))
    return record["history"][kept - 1]["val_accuracy"], record["test_accuracy"]

if __name__ == "__main__":
    main()
