"""Benchmark: fine-tuning against training from scratch, on a short text in another style than Shakespeare.

Trains lesson 08's default model on ``--text`` twice, for the same steps (08's FINE_TUNE: its steps,
warm-up and evaluations): once from the Shakespeare checkpoint given (``08 --init-from``, fine-tuning's
learning rates), once from random weights (``08 --tokenizer`` of that checkpoint, its BPE learned from the
new text, the learning rates of 08's default run). Prints both runs' best validation score in bits per
character on that text's validation part (its last 10%), their training time, and 200 characters each
model writes at temperature 0.8. Not a test: it measures. About 2-3 minutes on 2 CPU cores. The starting
checkpoint must be a BPE one unless the text holds only characters it knows (08 names any others).

    python 08_train_llm.py --tokenizer bpe       (the base model, if there is none yet)
    python benchmarks/fine_tuning.py models/08_gpt_tinyshakespeare_bpe.pt [--text texts/python_special_names.txt]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from lessons import ROOT, load_lesson
from targets import run_lesson

TEXT = ROOT / "texts" / "python_special_names.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="the model of 08 to fine-tune (trained on Shakespeare)")
    parser.add_argument("--text", type=Path, default=TEXT, help="the short text to learn")
    args = parser.parse_args()
    load_gpt, sample_text = load_lesson("09_use_llm").load_gpt, load_lesson("07_simple_llm").sample_text
    fine_tune = load_lesson("08_train_llm").FINE_TUNE  # the steps, the warm-up and the evaluations of both runs
    kind = load_gpt(args.checkpoint)[1].kind
    steps = ["--text", str(args.text.resolve()), *(f"--{key.replace('_', '-')}={fine_tune[key]}"
                                                   for key in ("max_iters", "warmup_iters", "eval_interval"))]
    runs = {"fine-tuned from " + args.checkpoint.name: ["--init-from", str(args.checkpoint.resolve())],
            "from scratch": ["--tokenizer", kind]}  # and the learning rates of 08's default run
    characters = len(args.text.read_text(encoding="utf-8"))
    print(f"{args.text.name}: {characters:,} characters; each run {' '.join(steps[2:])}\n")
    print(f"{'run':<48} {'wall s':>7} {'train s':>8} {'best val bits/char':>19} {'at step':>8}")
    samples = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, flags in runs.items():
            out = Path(folder) / name.split()[0]
            seconds = run_lesson("08_train_llm.py", *steps, *flags, "--out", str(out / "gpt.pt"), out=out)
            record = json.loads((out / "gpt.json").read_text())
            print(f"{name:<48} {seconds:7.1f} {record['train_seconds']:8.1f} {record['best_val_bpc']:19.4f} "
                  f"{record['best_step']:8d}", flush=True)
            model, tokenizer, _ = load_gpt(out / "gpt.pt")
            samples[name] = sample_text(model, tokenizer, 0, 200)
    for name, written in samples.items():
        print(f"\n{name}, 200 characters at temperature 0.8 (seed 0):\n   | " + written.replace("\n", "\n   | "))


if __name__ == "__main__":
    main()
