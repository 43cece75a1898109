"""Lesson 09 - use the trained language model: sampling knobs, and a KV cache that makes it fast.

The question: lesson 08's model turns a text into logits z for the next token (a character, or a
BPE token: the checkpoint says which). Writing is lesson 07's loop - probabilities, draw, append,
repeat. What choices hide in "draw", and why is the plain loop so slow?

The knobs (``next_token_probs``), each a different way to turn z into the probabilities drawn from:

* **Greedy** (temperature 0, where ever smaller T leads): always the likeliest token. Repeatable, prone to loops.
* **Temperature T**: p_i = exp(z_i / T) / sum_j exp(z_j / T). T = 1 is the model's own
  distribution; T < 1 sharpens it (safer, duller), T > 1 flattens it (more surprising, more misspelt).
* **Top-k**: only the k likeliest tokens, renormalised: the long tail can never be drawn.
* **Top-p** (nucleus): the smallest set of likeliest tokens whose probabilities reach p: one or two
  where the model is sure, many where it is not.

**The KV cache** (``LayerCache``, ``forward_with_cache``). Lesson 07's loop runs the whole context
through every layer for each new token, although the keys and values of the tokens already there
are exactly what they were one step before: with the causal mask, position s's key depends only on
tokens 0..s. So each layer keeps its keys and values, and a step feeds only the newest token: its
query, key and value, the key and value appended to the cache, attention over all of them. The
matrix products per new token then stay the same however long the text is (only attention's sum over
the cached keys grows with it), where without the cache all of them grow with the context.
The first pass over the prompt, which fills the cache, is called the prefill.

**The window** (``generate``). Positions are learned for 0..block_size-1 only, so a text longer than
the context cannot slide by one without every cached key landing at a wrong position. The window
jumps instead: it keeps the newest half context and prefills again. The text is the same, token for
token, as without the cache (the tests check it); the README's numbers section measures what the
jump costs against a sliding window (``benchmarks/context_window.py``).

What to look at: figures/09_sampling_knobs.png, the next token's probabilities under each knob, and their
entropy, -sum p ln p in nats: 0 for a sure pick, ln k for k equally likely tokens, so it says how open the
choice is (the run prints how it changes from panel to panel).

A BPE token may hold part of a character (an emoji is four bytes), so text shown while it is written
(--interactive, and lesson 10's stream) goes through a decoder that waits for a character's last byte
(``stream_text``).

Run it:  python 09_use_llm.py --prompt "JULIET:" [--temperature 0.8] [--top-k 20] [--top-p 0.9]
         python 09_use_llm.py --interactive
"""

from __future__ import annotations

import codecs
import statistics
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch
from torch.nn import functional as F

from common import UserError
from common.cli import fraction, lesson_parser, non_negative_float, positive_int, run, seed_everything
from common.checkpoints import DEFAULT_GPT_CHECKPOINT
from common.lessons import lesson
from common.plotting import check_figure_writable, plt, save_figure, show_or_close
from common.text import describe, token_text

_07, _08 = lesson("07_simple_llm"), lesson("08_train_llm")  # the model; the tokenizers and the checkpoint it wrote
GPT, GPTConfig, CausalSelfAttention = _07.GPT, _07.GPTConfig, _07.CausalSelfAttention
Tokenizer, load_gpt = _08.Tokenizer, _08.load_gpt

KNOBS = {  # name: (temperature, top_k, top_p)
    "greedy": (0.0, None, None),
    "temperature 0.5": (0.5, None, None),
    "temperature 1.0": (1.0, None, None),
    "temperature 1.5": (1.5, None, None),
    "top-k 5": (1.0, 5, None),
    "top-p 0.9": (1.0, None, 0.9),
}


# ----------------------------------------------------------------------------- the knobs


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
    """Turn one position's logits (vocab,) into the distribution the next token is drawn from.

    temperature 0 is greedy (all mass on the argmax); T < 1 sharpens, T > 1 flattens;
    top-k keeps the k likeliest; top-p keeps the smallest set whose probability reaches p.
    """
    dtype = logits.dtype
    if temperature == 0:
        return F.one_hot(logits.argmax(), logits.numel()).to(dtype)
    # Subtracting the largest logit changes no probability but keeps the scaled logits <= 0, and
    # float64 holds any positive temperature a user can type: a temperature of 1e-300 then gives
    # exp(0) = 1 for the likeliest token and exp(-huge) = 0 for the rest, i.e. greedy, not inf / inf.
    logits = (logits.double() - logits.max()) / temperature
    if top_k is not None and top_k < logits.numel():
        kth_largest = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_probs, order = probs.sort(descending=True)
        before = sorted_probs.cumsum(0) - sorted_probs  # mass of the likelier tokens
        keep = torch.zeros_like(probs, dtype=torch.bool)
        keep[order] = before < top_p  # indexing with order puts each answer back at its token's own place
        keep[order[0]] = True  # the likeliest token always stays, however small p is
        probs = torch.where(keep, probs, 0.0)
        probs = probs / probs.sum()
    return probs.to(dtype)


# ----------------------------------------------------------------------------- the KV cache


class LayerCache:
    """One layer's keys and values for every position seen so far.

    The buffers, (B, nh, capacity, hs) each, hold a whole context and are allocated once, at the first
    keys; ``extend`` writes the new keys and values into the next free positions and returns the filled
    part, (B, nh, T_seen, hs), for attention to look at. Growing them with torch.cat instead would copy
    everything cached so far, at every step.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity, self.length = capacity, 0
        self.k: torch.Tensor | None = None  # (B, nh, capacity, hs) once the first keys arrive
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.length

    def extend(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is None:
            B, nh, _, hs = k.shape
            self.k, self.v = k.new_empty(B, nh, self.capacity, hs), v.new_empty(B, nh, self.capacity, hs)
        end = self.length + k.size(2)
        self.k[:, :, self.length:end], self.v[:, :, self.length:end] = k, v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


def new_cache(model: GPT) -> list[LayerCache]:
    """An empty LayerCache for each block of the model, each with room for a whole context."""
    return [LayerCache(model.config.block_size) for _ in model.blocks]


def attention_with_cache(attn: CausalSelfAttention, x: torch.Tensor, cache: LayerCache) -> torch.Tensor:
    """Lesson 07's CausalSelfAttention.forward, for the new positions only, plus one line: the cache."""
    q, k, v = attn.split_heads(x)  # (B, nh, T, hs): the T new positions
    k, v = cache.extend(k, v)  # (B, nh, past + T, hs): every position seen so far
    # 07's attend takes the queries as the last T of the keys: each new query sees the cached keys, none after it
    return attn.merge_heads(attn.attend(q, k, v))


def forward_with_cache(model: GPT, idx: torch.Tensor, cache: list[LayerCache]) -> torch.Tensor:
    """Lesson 07's GPT.forward for (B, T) new tokens that follow the ``len(cache[0])`` cached ones.

    The differences: positions start after the cached ones (counted from the window's start, as in
    generate), and attention goes through the cache. It leaves out 07's dropout on the embeddings:
    generation runs in eval mode, where every dropout, here and inside the blocks, does nothing.
    """
    B, T = idx.shape
    past = len(cache[0])
    if past + T > model.config.block_size:
        raise ValueError(f"{past + T} positions, but the context holds {model.config.block_size}")
    positions = torch.arange(past, past + T, device=idx.device)  # (T,)
    x = model.token_embedding(idx) + model.position_embedding(positions)  # (B, T, C)
    for block, layer_cache in zip(model.blocks, cache):
        x = x + attention_with_cache(block.attn, block.ln1(x), layer_cache)
        x = x + block.ffwd(block.ln2(x))
    return model.lm_head(model.ln_f(x))  # (B, T, vocab)


# ----------------------------------------------------------------------------- the loop


def window_start(length: int, start: int, block_size: int) -> int:
    """Where the context window over ``length`` tokens starts: at ``start`` while they fit, else where it keeps
    the newest block_size // 2 (generate() explains why it jumps)."""
    return start if length - start <= block_size else length - block_size // 2


@torch.no_grad()
def generate(model: GPT, prompt: list[int], max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True) -> Iterator[int]:
    """Lesson 07's sample() with the knobs, the cache, and a window that jumps instead of sliding: yield new
    token ids one at a time.

    The context is a window over the text. Positions are learned embeddings
    0..block_size-1, so when the window is full it cannot simply slide by one:
    every cached key was computed at a position that would then be wrong. So
    when it overflows, the window jumps: it keeps the newest block_size // 2
    tokens, the cache is rebuilt from them (one "prefill"), and generation
    goes on; a prompt longer than the context starts the same way, from its
    newest block_size // 2 tokens. With use_cache=False the same jumping
    window is recomputed in full at every step - the same text (the tests
    check it token for token), much more work. (07's sample() slides by one
    instead, so after the first jump its text differs from both.)
    """
    if not prompt:
        raise ValueError("the prompt needs at least one token")
    model.eval()
    device = next(model.parameters()).device
    block_size = model.config.block_size
    tokens, start, cache = list(prompt), 0, None
    for _ in range(max_new_tokens):
        new_start = window_start(len(tokens), start, block_size)
        if new_start != start:
            start, cache = new_start, None  # the window jumps; cached positions are stale
        if not use_cache:
            logits = model(torch.tensor([tokens[start:]], device=device))[0, -1]  # the whole window, every step
        elif cache is None:
            cache = new_cache(model)  # the prefill: the whole window once, its keys and values kept
            logits = forward_with_cache(model, torch.tensor([tokens[start:]], device=device), cache)[0, -1]
        else:
            logits = forward_with_cache(model, torch.tensor([tokens[-1:]], device=device), cache)[0, -1]  # 1 token
        probs = next_token_probs(logits.float(), temperature, top_k, top_p)  # (vocab,)
        token = int(torch.multinomial(probs.cpu(), 1, generator=generator))
        tokens.append(token)
        yield token


# ----------------------------------------------------------------------------- trying them out


def prompt_boundary(tokenizer: Tokenizer, ids: list[int]) -> str | None:
    """BPE's prompt-boundary trap, in one line, when the prompt's last token begins longer tokens.

    The training text was encoded with every merge, so "the " there is one token, seldom 'th' and then
    'e '. A prompt ending in 'th' leaves the model after a token it mostly saw followed by what no merge
    joined to it ('ee', 'an', 'ing'): it will seldom write "the". Real systems back up a token and let the
    model choose one that starts with the removed text ("token healing"), or end prompts at a space.
    """
    if tokenizer.kind != "bpe":
        return None
    last = tokenizer.token_bytes(ids[-1])
    longer = [piece for piece in map(tokenizer.token_bytes, range(len(tokenizer)))
              if piece.startswith(last) and piece != last]
    if not longer:
        return None
    shortest = sorted(longer, key=len)[:3]
    return (f"   note: the prompt ends in the token {last.decode('utf-8', 'replace')!r}, which begins "
            f"{len(longer)} longer tokens ({', '.join(repr(p.decode('utf-8', 'replace')) for p in shortest)}, ...): "
            "in training those were merged into one, so the model seldom saw this token followed by their rest")


def prompt_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """Encode the prompt, saying which characters a character model has never seen (they become the fallback;
    BPE knows every byte), and when a BPE prompt ends where a longer token would have begun."""
    unknown = tokenizer.unknown(prompt)
    if unknown:
        print(f"   note: {unknown!r} not in the model's vocabulary; each is replaced by "
              f"{tokenizer.vocab[tokenizer.fallback]!r}")
    ids = tokenizer.encode(prompt or "\n")  # an empty prompt starts at a line break
    trap = prompt_boundary(tokenizer, ids)
    if trap:
        print(trap)
    return ids


def quoted(prompt: str, tail: int = 40) -> str:
    """The prompt as the messages quote it: an empty one is the line break generation starts from,
    and a long one only its end."""
    if not prompt:
        return "an empty prompt (a line break)"
    return repr(prompt) if len(prompt) <= tail else f"...{prompt[-tail:]!r}"


def write(model: GPT, tokenizer: Tokenizer, ids: list[int], n: int, knob: tuple, seed: int) -> str:
    temperature, top_k, top_p = knob
    generator = torch.Generator().manual_seed(seed)
    return tokenizer.decode(list(generate(model, ids, n, temperature, top_k, top_p, generator)))


@torch.no_grad()
def show_knobs(model: GPT, tokenizer: Tokenizer, ids: list[int], prompt: str) -> plt.Figure:
    """Print and plot the next-token distribution after the prompt under each knob."""
    block = model.config.block_size
    window = ids[window_start(len(ids), 0, block):]  # the window generate() starts from
    logits = model(torch.tensor([window]))[0, -1]
    print(f"\nThe next token after {quoted(prompt)}, under each setting (the 8 likeliest shown):")
    fig, axes = plt.subplots(2, 3, figsize=(14, 6.5), sharey=True)
    top = torch.topk(logits, min(12, len(logits))).indices  # the same 12 tokens in every panel (or all there are)
    labels = [repr(token_text(tokenizer, i).replace(" ", "_"))[1:-1] for i in top.tolist()]  # spaces as 07 draws them
    seen = {}  # name -> (tokens that may be drawn, entropy), for the line that says what the picture shows
    for ax, (name, knob) in zip(axes.flat, KNOBS.items()):
        probs = next_token_probs(logits, *knob)
        kept = int((probs > 0).sum())
        # Entropy, -sum p ln p, in nats: how open the choice is. A sure pick scores 0, k equally likely tokens ln k.
        entropy = abs(float(-(probs[probs > 0] * probs[probs > 0].log()).sum()))  # abs: no "-0.00"
        best = torch.topk(probs, min(8, len(probs)))
        shown = "  ".join(f"{token_text(tokenizer, i)!r} {p:.2f}" for p, i in zip(best.values.tolist(),
                                                                                    best.indices.tolist()) if p > 0)
        print(f"   {name:<16} {kept:>2} possible, entropy {entropy:.2f} nats:  {shown}")
        seen[name] = kept, entropy
        ax.bar(range(len(top)), probs[top].numpy(), color="tab:blue")
        ax.set_xticks(range(len(top)), labels)
        ax.set_title(f"{name}: {kept} possible, entropy {entropy:.2f} nats")
        ax.set_ylim(0, 1)
    for ax in axes[:, 0]:
        ax.set_ylabel("probability")
    fig.suptitle(f"What the model may write after {quoted(prompt, 30)}, under each sampling setting ('_' is a space)")
    fig.tight_layout()
    heat = [name for name, (temperature, k, p) in KNOBS.items() if k is None and p is None]  # temperature only
    cuts = [name for name in KNOBS if name not in heat]
    print(f"   in the figure, the same {len(top)} tokens in every panel: from {heat[0]} to {heat[-1]} the entropy goes "
          + " -> ".join(f"{seen[name][1]:.2f}" for name in heat) + f" nats; {' and '.join(cuts)} leave "
          + " and ".join(str(seen[name][0]) for name in cuts) + f" of the {len(logits)} tokens possible")
    return fig


def fair_rates(runs: dict[str, Callable[[], list[int]]], n: int, repeats: int = 3) -> dict[str, tuple[float, list]]:
    """Each way of generating n tokens, timed fairly: name -> (median tokens per second, the tokens).

    A warm-up first (the first run pays for memory and kernels), then ``repeats`` runs of each with the
    order alternating (so none always runs on a warmer machine), and the medians.
    """
    for go in runs.values():
        go()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    tokens = {}
    for r in range(repeats):
        for name in list(runs) if r % 2 == 0 else list(runs)[::-1]:
            start = time.perf_counter()
            tokens[name] = runs[name]()
            seconds[name].append(time.perf_counter() - start)
    return {name: (n / statistics.median(seconds[name]), tokens[name]) for name in runs}


def measure_cache(model: GPT, ids: list[int], n: int, repeats: int = 3) -> dict:
    """Greedy generation of n tokens with and without the cache, measured fairly (``fair_rates``)."""
    def greedy(use_cache: bool) -> Callable[[], list[int]]:
        return lambda: list(generate(model, ids, n, temperature=0.0, use_cache=use_cache))

    measured = fair_rates({"cached": greedy(True), "full": greedy(False)}, n, repeats)
    return {"cached": measured["cached"][0], "full": measured["full"][0],
            "cached_tokens": measured["cached"][1], "full_tokens": measured["full"][1]}


def stream_text(tokenizer: Tokenizer, ids: Iterable[int]) -> Iterator[str]:
    """Decode ids one at a time as they arrive, never yielding part of a character.

    A token may end in the middle of a character's bytes; the incremental decoder keeps those bytes until the
    character is complete. Bytes that can never form one come out as U+FFFD, as in ``decode``.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for i in ids:
        text = decoder.decode(tokenizer.token_bytes(i))
        if text:
            yield text
    rest = decoder.decode(b"", final=True)
    if rest:
        yield rest


def interactive(model: GPT, tokenizer: Tokenizer, args) -> None:
    print("\nType a prompt and press Enter (an empty line or Ctrl-D ends).")
    while True:
        try:
            prompt = input("prompt> ")
        except EOFError:
            break
        if not prompt:
            break
        ids = prompt_ids(tokenizer, prompt)
        tokens = generate(model, ids, args.max_new_tokens, args.temperature, args.top_k, args.top_p)
        for text in stream_text(tokenizer, tokens):
            print(text, end="", flush=True)
        print()


# ------------------------------------------ plumbing: the command line (not the lesson)


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_GPT_CHECKPOINT, help="a checkpoint of lesson 08")
    parser.add_argument("--prompt", default="ROMEO:\nI love th", help="the text to continue (it may end mid-word)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=300,
                        help="tokens to write (a token is a character for a character model)")
    parser.add_argument("--temperature", type=non_negative_float, default=0.8, help="0 is greedy")
    parser.add_argument("--top-k", type=positive_int, help="draw only among the k likeliest tokens")
    parser.add_argument("--top-p", type=fraction, help="draw only from the smallest set holding this probability")
    parser.add_argument("--interactive", action="store_true", help="a prompt loop in the terminal")
    args = parser.parse_args()
    seed_everything(args.seed)
    check_figure_writable("09_sampling_knobs")
    if not args.checkpoint.exists():
        raise UserError(f"{args.checkpoint}: no such checkpoint; train one first with python 08_train_llm.py "
                        + ("(or --quick for a 2-minute model)" if args.checkpoint == DEFAULT_GPT_CHECKPOINT else
                           "and the flags that name this file (08 prints the checkpoint it saves)"))
    model, tokenizer, checkpoint = load_gpt(args.checkpoint)
    config = model.config
    print(f"{args.checkpoint}: {model.num_parameters():,} parameters, {config.n_layer} blocks x {config.n_head} heads, "
          f"context {config.block_size} tokens of {describe(tokenizer)}; validation "
          f"{checkpoint.get('best_val_bpc', float('nan')):.4f} bits per character on {checkpoint.get('text', '?')}")
    if args.interactive:
        interactive(model, tokenizer, args)
        return

    ids = prompt_ids(tokenizer, args.prompt)
    save_figure(show_knobs(model, tokenizer, ids, args.prompt), "09_sampling_knobs")

    print(f"\n150 tokens after {quoted(args.prompt)} under each setting (seed {args.seed}):")
    for name, knob in KNOBS.items():
        text = write(model, tokenizer, ids, 150, knob, args.seed)
        print(f"\n-- {name}\n   | " + text.replace("\n", "\n   | "))

    n = 2 * config.block_size  # long enough for the window to jump more than once
    print(f"\nThe KV cache: {n} tokens, greedy, from {quoted(args.prompt)} (context {config.block_size}):")
    measured = measure_cache(model, ids, n)
    slow, fast = measured["full"], measured["cached"]
    without, cached = measured["full_tokens"], measured["cached_tokens"]
    same = without == cached
    print(f"   without a cache: {slow:8.0f} tokens/s   (the whole window through the network every step)")
    print(f"   with a KV cache: {fast:8.0f} tokens/s   (one new token per step)")
    print(f"   speed-up {fast / slow:.1f}x (medians of 3 after a warm-up, order alternating); the two texts are "
          + ("identical, token for token" if same else
             f"different from token {next(i for i, (a, b) in enumerate(zip(without, cached)) if a != b)} on "
             "(rounding: the cache adds the same numbers in another order, and a near-tie tipped)"))

    knob = (args.temperature, args.top_k, args.top_p)
    print(f"\nYour settings: temperature {args.temperature}, top-k {args.top_k or 'off'}, "
          f"top-p {args.top_p or 'off'}, {args.max_new_tokens} tokens:")
    print("   | " + (args.prompt + write(model, tokenizer, ids, args.max_new_tokens, knob, args.seed))
          .replace("\n", "\n   | "))
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
