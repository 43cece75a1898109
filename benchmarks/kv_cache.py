"""Benchmark: greedy generation with and without lesson 09's KV cache, measured fairly.

For lesson 08's default architecture (4 blocks, 4 heads, width 128; random weights: speed does not
depend on what the weights say) at contexts 64, 128 and 256, it generates the same number of
characters with the cache and by recomputing the whole window at every step. Each measurement is
warmed up first, repeated with the order of the two alternating, and the median is reported; the
generated ids must be identical, or the speed-up means nothing.

    python benchmarks/kv_cache.py [--new-tokens 512] [--repeats 5] [--threads 2]

One line per context, ending "speed-up N.Nx".
"""

from __future__ import annotations

import argparse

import torch
from lessons import load_lesson  # also puts the repository root on sys.path

_07 = load_lesson("07_simple_llm")
GPT, GPTConfig = _07.GPT, _07.GPTConfig

VOCAB = 65  # Tiny Shakespeare's characters


def measure(block_size: int, new_tokens: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = GPT(GPTConfig(VOCAB, block_size=block_size, n_layer=4, n_head=4, n_embd=128)).eval()
    prompt = torch.randint(VOCAB, (block_size // 2,), generator=torch.Generator().manual_seed(1)).tolist()
    return load_lesson("09_use_llm").measure_cache(model, prompt, new_tokens, repeats)  # the lesson's own measurement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=512, help="characters generated per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="measurements of each kind per context")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    parser.add_argument("--contexts", type=int, nargs="+", default=[64, 128, 256])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"greedy generation of {args.new_tokens} characters, 4 blocks x 4 heads, width 128, {args.threads} threads; "
          f"median of {args.repeats}, order alternating")
    for block_size in args.contexts:
        r = measure(block_size, args.new_tokens, args.repeats)
        same = "identical ids" if r["cached_tokens"] == r["full_tokens"] else "DIFFERENT ids"
        print(f"context {block_size:>4}: with cache {r['cached']:7.0f} chars/s, recomputing {r['full']:7.0f} chars/s; "
              f"{same}; speed-up {r['cached'] / r['full']:.1f}x")


if __name__ == "__main__":
    main()
