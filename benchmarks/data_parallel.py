"""Benchmark: lesson 08's training throughput in one process and in N processes under torchrun.

Each run trains the --quick model for a fixed number of steps with the same global batch (16 windows:
16 in one process, 16 / N in each of N), headless, in a temporary folder, and reads the characters
per second of training from the record 08 writes. On a machine with fewer cores than N x threads the
processes share the cores, so more processes cannot be faster there: the point of the table is what
it measures, not what it promises.

    python benchmarks/data_parallel.py [--processes 1 2] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from targets import run_lesson  # also puts the repository root on sys.path

from common.text import SHAKESPEARE

GLOBAL_BATCH = 16  # --quick's batch


def train(processes: int, steps: int, out: Path) -> dict:
    """Run 08 --quick for ``steps`` steps in ``processes`` processes; return its record."""
    launcher = () if processes == 1 else ("-m", "torch.distributed.run", "--standalone",
                                          f"--nproc_per_node={processes}")
    run_lesson("08_train_llm.py", "--quick", "--max-iters", str(steps), "--eval-interval", str(steps),
               "--batch-size", str(GLOBAL_BATCH // processes), out=out, launcher=launcher)
    return json.loads((out / "models" / f"08_gpt_{SHAKESPEARE.stem}.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to measure")
    parser.add_argument("--steps", type=int, default=200, help="training steps per run")
    args = parser.parse_args()
    print(f"08 --quick, {args.steps} steps of a global batch of {GLOBAL_BATCH} windows x 64 characters, "
          f"{os.cpu_count()} cores")
    for n in args.processes:
        if GLOBAL_BATCH % n:
            raise SystemExit(f"{n} processes cannot share a batch of {GLOBAL_BATCH} evenly")
        with tempfile.TemporaryDirectory() as tmp:
            record = train(n, args.steps, Path(tmp))
        print(f"   {n} process{'es' if n > 1 else ''} x {GLOBAL_BATCH // n} windows: "
              f"{record['tokens_per_second']:8,.0f} characters per second of training "
              f"({record['train_seconds']:.1f} s), validation {record['best_val_bpc']:.4f} bits per character")


if __name__ == "__main__":
    main()
