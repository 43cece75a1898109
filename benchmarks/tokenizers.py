"""Benchmark: characters or BPE tokens - which GPT of Tiny Shakespeare is better for the same training time?

Lesson 08's default model (4 blocks x 4 heads, width 128, a context of 128 tokens, batches of 32, its
learning rates) is trained on each kind of token for the same wall-clock budget: the training time of
08's default run of 2000 steps on characters. A short timed probe of each measures its seconds per
step, and 08 then runs with as many steps as fit the budget, so each cosine schedule ends on time. A
probe can be off by a tenth on shared cores: when the BPE run's training time ends more than 5% away
from the character run's, it runs once more with its steps scaled by the ratio of the two times.
The BPE vocabulary is chosen first, on validation, with shorter runs of the same kind (--select-seconds
each). Scores are bits per character over the whole validation split (lesson 07's evaluate), so the
two kinds of token compare directly; nats per token and characters per token are shown beside them.

    python benchmarks/tokenizers.py                                     (about 40 minutes on 2 CPU cores)
    python benchmarks/tokenizers.py --vocab-sizes 512 --select-seconds 60 --steps 500   (a shorter look)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from targets import run_lesson  # also puts the repository root on sys.path

from common.text import SHAKESPEARE

PROBE_STEPS = 80  # timed to measure seconds per step


def train(out: Path, tokenizer: str, vocab_size: int, steps: int, eval_interval: int) -> dict:
    """Run lesson 08 on Shakespeare with its default model and these tokens; return its JSON record."""
    run_lesson("08_train_llm.py", "--tokenizer", tokenizer, "--vocab-size", str(vocab_size), "--max-iters", str(steps),
               "--eval-interval", str(eval_interval), out=out)
    suffix = "_bpe" if tokenizer == "bpe" else ""
    return json.loads((out / "models" / f"08_gpt_{SHAKESPEARE.stem}{suffix}.json").read_text())


def seconds_per_step(out: Path, tokenizer: str, vocab_size: int) -> float:
    record = train(out, tokenizer, vocab_size, PROBE_STEPS, PROBE_STEPS)
    return record["train_seconds"] / PROBE_STEPS


def train_seconds(record: dict) -> float:
    return record["history"][-1]["seconds"]  # the record is written with each new best: its last entry is the best


def row(name: str, record: dict) -> str:
    return (f"| {name:<14} | {record['characters_per_token']:>11.2f} | {record['parameters']:>10,} | "
            f"{record['best_step']:>5} | {train_seconds(record):>7.0f} | {record['best_val_bpc']:>9.4f} | "
            f"{record['best_val_loss']:>11.4f} |")


HEADER = ("| tokens         | chars/token | parameters | steps | train s | bits/char | nats/token  |\n"
          "|----------------|------------:|-----------:|------:|--------:|----------:|------------:|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[256, 512, 1024],
                        help="BPE vocabularies to choose from on validation")
    parser.add_argument("--select-seconds", type=float, default=150, help="training budget of each choosing run")
    parser.add_argument("--steps", type=int, default=2000, help="steps of the character run, which set the budget")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        char_step = seconds_per_step(out / "probe_char", "char", 256)
        budget = args.steps * char_step
        print(f"Budget: {args.steps} character steps at {char_step * 1000:.0f} ms = {budget:.0f} s of training each\n")

        print(f"Choosing the BPE vocabulary on validation, {args.select_seconds:.0f} s of training each:\n")
        print(HEADER)
        chosen = {}
        for vocab_size in args.vocab_sizes:
            step = seconds_per_step(out / f"probe_{vocab_size}", "bpe", vocab_size)
            steps = max(1, round(args.select_seconds / step))
            chosen[vocab_size] = record = train(out / f"select_{vocab_size}", "bpe", vocab_size, steps,
                                                max(1, steps // 4))
            print(row(f"BPE {vocab_size}", record), flush=True)
        vocab_size = min(chosen, key=lambda v: chosen[v]["best_val_bpc"])
        print(f"\nchosen: {vocab_size} tokens\n\nThe same {budget:.0f} s of training for each:\n")

        char = train(out / "char", "char", 256, args.steps, 200)
        bpe_step = seconds_per_step(out / "probe_final", "bpe", vocab_size)
        bpe_steps = round(budget / bpe_step)
        bpe = train(out / "bpe", "bpe", vocab_size, bpe_steps, max(1, bpe_steps // 10))
        ratio = train_seconds(char) / train_seconds(bpe)
        if abs(ratio - 1) > 0.05:
            print(f"(BPE {bpe_steps} steps trained {train_seconds(bpe):.0f} s against {train_seconds(char):.0f} s: "
                  f"again with {round(bpe_steps * ratio)} steps)")
            bpe_steps = round(bpe_steps * ratio)
            bpe = train(out / "bpe_again", "bpe", vocab_size, bpe_steps, max(1, bpe_steps // 10))
        print(HEADER)
        print(row("characters", char))
        print(row(f"BPE {vocab_size}", bpe))
        winner, loser = (("characters", "BPE"), ("BPE", "characters"))[bpe["best_val_bpc"] < char["best_val_bpc"]]
        gap = abs(bpe["best_val_bpc"] - char["best_val_bpc"])
        print(f"\n{winner} won by {gap:.4f} bits per character over {loser} "
              f"({min(char['best_val_bpc'], bpe['best_val_bpc']):.4f} against "
              f"{max(char['best_val_bpc'], bpe['best_val_bpc']):.4f}).")


if __name__ == "__main__":
    main()
