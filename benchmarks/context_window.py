"""Benchmark: what lesson 09's jumping window costs, against a sliding one.

When the text outgrows the context, ``generate`` (09_use_llm.py) jumps: it keeps the newest
block_size // 2 characters and rebuilds the KV cache from them, so right after a jump the model
sees only half a context. A sliding window (nanoGPT's) always keeps the newest block_size
characters, but with learned position embeddings every key's position changes at each step, so
there is nothing to cache: the whole window goes through the network for every new character.

Two measurements, on a trained checkpoint of lesson 08:

* quality: the cross-entropy of each character of the validation split, predicted from the
  context each policy gives it: the jumping window (what generation with the cache sees) or the
  full sliding window. Reported over all characters and over the 16 right after each jump.
* speed: greedy generation of 4 contexts' worth of characters with the jumping window and the
  cache, and with a sliding window recomputed every step (median of 3, order alternating).

    python benchmarks/context_window.py [--checkpoint models/08_gpt_tinyshakespeare.pt] [--chars 20000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from lessons import load_lesson  # also puts the repository root on sys.path
from torch.nn import functional as F

from common.checkpoints import DEFAULT_GPT_CHECKPOINT
from common.text import SHAKESPEARE, read_text, split_text

_09 = load_lesson("09_use_llm")  # the lesson's own generation, window and checkpoint reader
GPT, generate, load_gpt = _09.GPT, _09.generate, _09.load_gpt
window_start = _09.window_start

AFTER_JUMP = 16  # characters right after a jump, where the jumping window has the least context


@torch.no_grad()
def jumping_losses(model: GPT, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each character's loss given the context generate() would have, and whether it came soon after a jump.

    Characters whose windows start at the same place are scored by one forward pass over that window:
    the causal mask gives each position exactly the characters from the window's start up to itself.
    """
    block = model.config.block_size
    losses, soon = torch.empty(len(ids) - 1), torch.zeros(len(ids) - 1, dtype=torch.bool)
    start, t = 0, 1
    while t < len(ids):
        start = window_start(t, start, block)  # the window for predicting character t from ids[start:t]
        end = min(start + block, len(ids) - 1)  # the same window serves every t up to start + block
        logits = model(ids[start:end].unsqueeze(0))[0]  # (end - start, vocab)
        losses[t - 1:end] = F.cross_entropy(logits[t - 1 - start:], ids[t:end + 1], reduction="none")
        if start > 0:
            soon[t - 1:min(end, t - 1 + AFTER_JUMP)] = True
        t = end + 1
    return losses, soon


@torch.no_grad()
def sliding_losses(model: GPT, ids: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Each character's loss given the newest block_size characters before it (fewer only at the very start)."""
    block = model.config.block_size
    losses = [F.cross_entropy(model(ids[:block - 1].unsqueeze(0))[0], ids[1:block], reduction="none")]
    ends = list(range(block, len(ids)))  # predict ids[e] from ids[e - block:e]
    for i in range(0, len(ends), batch_size):
        chunk = torch.tensor(ends[i:i + batch_size])
        windows = torch.stack([ids[e - block:e] for e in chunk.tolist()])  # (B, block)
        losses.append(F.cross_entropy(model(windows)[:, -1], ids[chunk], reduction="none"))
    return torch.cat(losses)


@torch.no_grad()
def sliding_generate(model: GPT, prompt: list[int], n: int) -> list[int]:
    """Greedy generation that always keeps the newest block_size characters (no cache can survive the slide)."""
    tokens, block = list(prompt), model.config.block_size
    for _ in range(n):
        tokens.append(int(model(torch.tensor([tokens[-block:]]))[0, -1].argmax()))
    return tokens[len(prompt):]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_GPT_CHECKPOINT, help="a checkpoint of lesson 08")
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="the text it was trained on")
    parser.add_argument("--chars", type=int, default=20000, help="validation characters scored")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer, _ = load_gpt(args.checkpoint)
    block = model.config.block_size
    _, val_text = split_text(read_text(args.text, min_chars=1))
    val_ids = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)
    ids = val_ids[:args.chars + 1]
    jumping, soon = jumping_losses(model, ids)
    sliding = sliding_losses(model, ids)
    print(f"{args.checkpoint.name}: context {block}; {len(ids) - 1:,} validation characters scored")
    print(f"   all characters:        jumping window {jumping.mean():.4f}, sliding window {sliding.mean():.4f} "
          f"nats/char ({jumping.mean() - sliding.mean():+.4f})")
    print(f"   {AFTER_JUMP} after each jump ({int(soon.sum()):,}): jumping window {jumping[soon].mean():.4f}, "
          f"sliding window {sliding[soon].mean():.4f} nats/char ({jumping[soon].mean() - sliding[soon].mean():+.4f})")
    prompt, n = tokenizer.encode("\n"), 4 * block
    measured = load_lesson("09_use_llm").fair_rates({  # the lesson's own fair timing
        "jumping, cached": lambda: list(generate(model, prompt, n, temperature=0.0)),
        "sliding, recomputed": lambda: sliding_generate(model, prompt, n)}, n)
    rates = {name: rate for name, (rate, _) in measured.items()}
    line = ", ".join(f"{name} {rate:,.0f} chars/s" for name, rate in rates.items())
    print(f"   greedy generation of {n} characters: {line} "
          f"(the cache makes the jumping window {rates['jumping, cached'] / rates['sliding, recomputed']:.1f}x "
          "faster)")


if __name__ == "__main__":
    main()
