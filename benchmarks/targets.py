"""Benchmark: run the lessons as a learner would and check the README's speed and accuracy targets.

Each lesson runs in a subprocess, headless, timed from the outside (wall
seconds, start-up included); accuracies are read back from the JSON records
the lessons write. Targets are on validation accuracy (of the epoch the lesson
keeps), the split the settings were chosen on; test accuracy is reported once,
beside them, as the honest estimate. The CNN's target is the issue's, on test:

    04 on digits (default flags)       >= 96% validation accuracy in <= 10 s wall
    05 default run                      <= 15 s wall, GIF included
    03 on MNIST (default MNIST flags)   >= 98.3% validation accuracy in <= 30 s wall
    04 on MNIST, MLP (default flags)    >= 98.3% validation accuracy in <= 60 s wall
    04 on MNIST, --model cnn            >= 99.3% test accuracy in <= 240 s wall
    08 default run (with --llm)         <= 2.24 bits per character on validation in <= 600 s wall
    08 --quick (with --llm)             <= 2.89 bits per character on validation in <= 120 s wall

and then both MNIST networks read the digits of ``rendered_digits.py``
(printed in many fonts, sizes, slants, places and both polarities), through
lesson 06's preprocessing: no target, the score is the finding (examples in
figures/bench_rendered_digits.png).

Not a test. MNIST rows need --data-dir; --quick runs the digits rows only; --llm adds lesson 08's
two runs (about 11 minutes on 2 CPU cores).

    python benchmarks/targets.py --data-dir data/mnist --llm
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

import rendered_digits
from lessons import ROOT, load_lesson

from common.plotting import save_figure
from common.records import kept_epoch


def run_lesson(script: str, *args: str, out: Path, launcher: tuple[str, ...] = ()) -> float:
    """Run one lesson headless, writing into ``out``; return its wall time in seconds (raises if it fails).

    ``launcher``: arguments to Python before the script (``-m torch.distributed.run ...`` for torchrun).
    """
    env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "NN_TUTORIAL_OUTPUT": str(out)}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *launcher, str(ROOT / script), "--no-show", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{script} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return seconds


def lesson_row(name: str, seconds: float, record_path: Path | None = None, *, min_val: float | None = None,
               min_test: float | None = None, max_loss: float | None = None, max_seconds: float | None = None) -> dict:
    """One line of the table: what was measured, the target, and whether it was met."""
    row = {"name": name, "seconds": seconds, "parameters": None, "val": None, "test": None, "loss": None}
    if record_path:
        record = json.loads(record_path.read_text())
        if "best_val_bpc" in record:  # lesson 08: a language model, scored in bits per character
            row.update(loss=record["best_val_bpc"], parameters=record["parameters"])
        else:
            row.update(val=kept_epoch(record)["val_accuracy"], test=record["test_accuracy"],
                       parameters=record.get("parameters"))
    checks = [(min_val, row["val"], f">= {min_val:.1%} val" if min_val else ""),
              (min_test, row["test"], f">= {min_test:.1%} test" if min_test else "")]
    row["target"] = " in ".join([text for limit, _, text in checks if limit] +
                                ([f"<= {max_loss} val bits/char"] if max_loss else []) +
                                ([f"<= {max_seconds} s"] if max_seconds else []))
    row["met"] = all(value >= limit for limit, value, _ in checks if limit) and \
        (max_loss is None or row["loss"] <= max_loss) and (max_seconds is None or seconds <= max_seconds)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--quick", action="store_true", help="digits rows only")
    parser.add_argument("--llm", action="store_true", help="add lesson 08's default and --quick runs")
    args = parser.parse_args()
    rows, rendered, seen = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        models = out / "models"
        seconds = run_lesson("04_neural_network_training.py", out=out)
        rows.append(lesson_row("04 digits", seconds, models / "04_mlp_digits.json", min_val=0.96, max_seconds=10))
        rows.append(lesson_row("05 default", run_lesson("05_visualize_training.py", out=out), max_seconds=15))
        if args.data_dir and not args.quick:
            data = ["--dataset", "mnist", "--data-dir", str(args.data_dir)]
            seconds = run_lesson("03_multilayer_perceptron.py", "--skip-toys", *data, out=out)
            rows.append(lesson_row("03 MNIST", seconds, models / "03_mlp_mnist_cross_entropy_relu.json",
                                   min_val=0.983, max_seconds=30))
            seconds = run_lesson("04_neural_network_training.py", *data, out=out)
            rows.append(lesson_row("04 MNIST MLP", seconds, models / "04_mlp_mnist.json", min_val=0.983,
                                   max_seconds=60))
            seconds = run_lesson("04_neural_network_training.py", *data, "--model", "cnn", out=out)
            rows.append(lesson_row("04 MNIST CNN", seconds, models / "04_cnn_mnist.json", min_test=0.993,
                                   max_seconds=240))
        if args.llm:
            record = models / "08_gpt_tinyshakespeare.json"
            rows.append(lesson_row("08 default", run_lesson("08_train_llm.py", out=out), record, max_loss=2.24,
                                   max_seconds=600))
            rows.append(lesson_row("08 --quick", run_lesson("08_train_llm.py", "--quick", "--overwrite", out=out),
                                   record, max_loss=2.89, max_seconds=120))
        if args.data_dir and not args.quick:
            cases, labels, pictures = rendered_digits.rendered_set()
            lesson06 = load_lesson("06_neural_network_inference")
            for model in ("mlp", "cnn"):
                rendered[model], seen[model] = rendered_digits.predict(models / f"04_{model}_mnist.pt", pictures,
                                                                       lesson06)

    print(f"| {'run':<12} | wall s | parameters | val acc | test acc | val bpc  | target                      | met |")
    print(f"|{'-' * 14}|-------:|-----------:|--------:|---------:|---------:|-----------------------------|-----|")
    for row in rows:
        shown = [f"{row[key]:.2%}" if row[key] is not None else "-" for key in ("val", "test")]
        loss = f"{row['loss']:.4f}" if row["loss"] is not None else "-"
        parameters = f"{row['parameters']:,}" if row["parameters"] else "-"
        print(f"| {row['name']:<12} | {row['seconds']:6.1f} | {parameters:>10} | {shown[0]:>7} | {shown[1]:>8} "
              f"| {loss:>8} | {row['target']:<27} | {'yes' if row['met'] else 'NO':<3} |")
    if rendered:
        print(f"\nThe MNIST networks on {len(cases)} rendered digits (benchmarks/rendered_digits.py):")
        rendered_digits.report(rendered, cases, labels)
        save_figure(rendered_digits.plot_examples(cases, labels, pictures, seen, rendered), "bench_rendered_digits")


if __name__ == "__main__":
    main()
