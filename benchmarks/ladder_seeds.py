"""Benchmark: lesson 07's ladder over several seeds, so the README's ranges come from one command.

Runs ``07_simple_llm.py --seed N`` (default flags otherwise, headless) for each seed, reads the table each
run prints, and prints each rung's validation loss at every seed, its range, and its range against the
bigram table (the lesson's baseline). Not a test: it measures. About 1.5-2 minutes a seed on 2 CPU cores.

    python benchmarks/ladder_seeds.py [--seeds 0 1 2 3 4] [07's flags, e.g. --max-iters 150]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

from lessons import ROOT

ROW = re.compile(r"^   (.+?)\s+([\d,]+)\s+(\d+\.\d+)\s+(?:[+-]\d+\.\d+|-)\s+\d+\.\d+$")  # rung, parameters, loss


def ladder(seed: int, flags: list[str]) -> dict[str, float]:
    """One run of lesson 07: each rung's validation loss, as it printed it."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "CI": "1", "MPLBACKEND": "Agg", "NN_TUTORIAL_OUTPUT": out}
        result = subprocess.run([sys.executable, str(ROOT / "07_simple_llm.py"), "--no-show", "--seed", str(seed),
                                 *flags], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"07 --seed {seed} failed:\n{result.stderr[-2000:]}")
    return {match[1]: float(match[3]) for match in map(ROW.match, result.stdout.splitlines()) if match}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args, flags = parser.parse_known_args()
    runs = {}
    for seed in args.seeds:
        runs[seed] = ladder(seed, flags)
        print(f"seed {seed}: " + ", ".join(f"{loss:.3f}" for loss in runs[seed].values()), flush=True)
    rungs = list(runs[args.seeds[0]])
    print(f"\n| rung | {' | '.join(f'seed {s}' for s in args.seeds)} | range | against the bigram |")
    print("|---|" + "---:|" * (len(args.seeds) + 2))
    for rung in rungs:
        losses = [runs[s][rung] for s in args.seeds]
        gaps = [runs[s][rung] - runs[s][rungs[0]] for s in args.seeds]
        print(f"| {rung} | " + " | ".join(f"{x:.3f}" for x in losses) + f" | {min(losses):.3f}–{max(losses):.3f} | "
              + ("-" if rung == rungs[0] else f"{min(gaps):+.3f} to {max(gaps):+.3f}") + " |")


if __name__ == "__main__":
    main()
