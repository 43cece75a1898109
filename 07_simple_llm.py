"""Lesson 07 - a transformer language model, built one rung at a time and trained on Shakespeare.

A language model reads text and, at every position, outputs a probability for
each possible next character. Trained to make the true next character likely
(cross-entropy, as in lessons 03-04, with 65 classes instead of 10), it learns
spelling, words and the shape of a play - and it can then write, one character
at a time, by drawing from its own predictions.

**Tokens, two ways** (common/tokenizers.py; read it first). A model sees
integer ids, so the text is cut into tokens, each with an id; the model
outputs one score (logit) per id.

* **Characters**: each distinct character is a token (65 in Shakespeare).
  Small and simple, but a character the text never had has no id.
* **Byte-pair encoding** (BPE, what GPT models use): start from the 256 byte
  values of UTF-8, so nothing is ever unknown, then count every adjacent pair
  of tokens in the training text, make the most frequent pair a new token,
  merge it everywhere, and repeat until --vocab-size tokens. Frequent letter
  pairs merge first, then syllables and words: each token holds about two
  characters at 512 tokens, so a model reads a text in half the steps, but
  has a larger vocabulary to choose from at each one. ``learn_merges`` is that
  loop as written; ``learn_merges_fast`` does each count and merge on NumPy
  arrays, every position at once, so it learns the same merges (this lesson
  checks it on a sample, the tests on random texts) from a megabyte in about
  a second. Lesson 08 trains a model on either and compares them fairly, in
  bits per character.

The ladder below uses characters, so each rung's loss is per character.

**The ladder.** Each rung adds one idea and is trained for the same number of
steps on the same batches, so the validation loss (nats per character) shows
what it buys - within that short budget. Expect a surprise: in so few steps
not every rung beats the one before it (the run prints which did not; the
README's numbers give seeds 0-4), and lesson 08 trains the GPT properly.

1. **Bigram**: a table of logits, next-character scores given only the current
   character. No context at all: the baseline, about 2.5 nats.
2. **One self-attention head.** Each position t emits a query q_t ("what am I
   looking for"), a key k_s ("what do I contain") and a value v_s ("what I
   pass on"), all linear maps of its embedding (token + position embedding).
   Position t then takes a weighted average of the values of positions s <= t:
       scores = Q K^T / sqrt(d)     (T x T; d = head size)
       scores[t, s] = -inf  for s > t    (the causal mask: no looking ahead)
       weights = softmax(scores, along s)    (each row sums to 1)
       out = weights V
   The 1/sqrt(d) keeps the scores' spread near 1 whatever d is, so softmax
   starts soft instead of picking a single position.
3. **Multi-head.** Several smaller heads side by side, each free to look for
   something else (the previous vowel, the start of the word, ...); their
   outputs are concatenated and mixed by one linear layer.
4. **+ Feed-forward.** Attention moves information between positions; a small
   MLP applied to every position on its own then computes with it.
5. **+ Residual connections and LayerNorm.** x + f(LayerNorm(x)) instead of
   f(x): the identity path lets gradients flow straight through many layers,
   and LayerNorm keeps each position's vector at a steady scale.
6. **A GPT**: n_layer such blocks stacked, and a last LayerNorm before the read-out.

Rungs 5 and 6 are the GPT that lessons 08-10 train, sample from and serve,
below one screen per piece: CausalSelfAttention (rungs 2-3 with all heads at
once; the tests check it equals rung 3's loop), FeedForward, Block, GPT,
init_weights, and ``sample``, the plain writing loop that lesson 09 speeds up.

Run it:  python 07_simple_llm.py [--max-iters 800] [--vocab-size 512] [--text my_book.txt]   (about a minute and a half)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from common import Diverged
from common.cli import bpe_vocab_size, lesson_parser, positive_float, positive_int, run, seed_everything
from common.devices import check_fits
from common.lessons import lesson
from common.plotting import check_figure_writable, plt, save_figure, show_or_close
from common.schedule import learning_rate
from common.text import SHAKESPEARE, evaluate, get_batch, read_text, split_text
from common.tokenizers import (
    BYTES,
    BPETokenizer,
    CharTokenizer,
    characters_per_token,
    learn_merges,
    learn_merges_fast,
    token_text,
)

weight_decay_groups = lesson("04_neural_network_training").weight_decay_groups  # weight matrices decay, nothing else

EXAMPLE = "To be, or not to be"
ODD = "Café 🙂"  # characters outside Shakespeare's alphabet
BPE_CHECK_CHARS = 20_000  # the textbook BPE loop is checked against the fast one on this much text

# ----------------------------------------------------------------------------- the rungs


class Bigram(nn.Module):
    """Rung 1: logits for the next character read straight from a (vocab x vocab) table."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.table = nn.Embedding(config.vocab_size, config.vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table(idx)  # (B, T, vocab)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d), with the future masked out) v, for (..., T, d) tensors."""
    T, d = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T, T): how well query t matches key s
    future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), diagonal=1)  # s > t
    scores = scores.masked_fill(future, float("-inf"))  # exp(-inf) = 0: no weight on the future
    weights = F.softmax(scores, dim=-1)  # (..., T, T), each row sums to 1
    return weights @ v  # (..., T, d)


class Head(nn.Module):
    """Rung 2: one head of causal self-attention."""

    def __init__(self, config: GPTConfig, head_size: int):
        super().__init__()
        self.query = nn.Linear(config.n_embd, head_size, bias=False)
        self.key = nn.Linear(config.n_embd, head_size, bias=False)
        self.value = nn.Linear(config.n_embd, head_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return causal_attention(self.query(x), self.key(x), self.value(x))  # (B, T, C) -> (B, T, hs)


class MultiHead(nn.Module):
    """Rung 3: n_head heads of size C / n_head, concatenated and mixed by a linear layer."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        head_size = config.n_embd // config.n_head
        self.heads = nn.ModuleList(Head(config, head_size) for _ in range(config.n_head))
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([head(x) for head in self.heads], dim=-1))  # (B, T, C)


class LanguageModel(nn.Module):
    """Rungs 2-4: token + position embeddings, a body, and a linear read-out to logits."""

    def __init__(self, config: GPTConfig, body: nn.Module):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.block_size, config.n_embd)
        self.body = body
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.size(1)
        x = self.token_embedding(idx) + self.position_embedding(torch.arange(T, device=idx.device))  # (B, T, C)
        return self.lm_head(self.body(x))  # (B, T, vocab)


# ----------------------------------------------------------------------------- the GPT: rungs 5 and 6
# One screen per piece, as nanoGPT's model.py. Shapes: B batch, T time (positions), C channels (n_embd),
# nh heads, hs head size = C / nh.


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 128  # context: the most tokens the model sees at once
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    """Rungs 2-3 with all heads at once: one matrix product makes every head's q, k and v."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)  # queries, keys, values in one product
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.attn_dropout = nn.Dropout(config.dropout)  # on the weights (this lesson reads them here, with a hook)
        self.fused = True  # F.scaled_dot_product_attention; False computes the weights by hand, as rung 2 does
        self.resid_dropout = nn.Dropout(config.dropout)  # on the output, before it joins the residual stream
        self.register_buffer("mask", torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool)),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)  # (B, nh, T, hs) each
        return self.merge_heads(self.attend(q, k, v))  # (B, T, C)

    def split_heads(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, T, C) -> q, k, v, each (B, nh, T, hs): head h gets channels h*hs .. (h+1)*hs - 1."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        # view cuts C into nh pieces of hs; transpose puts the heads before the positions, so that the
        # products below run for every head at once: e.g. (32, 64, 128) -> (32, 64, 4, 32) -> (32, 4, 64, 32).
        return [t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Rung 2's causal softmax for every head: (B, nh, T, hs) queries against (B, nh, S, hs) keys and values.

        The queries are the last T of the S positions (here S = T; lesson 09 hands it more keys, the ones it kept).
        """
        T, S = q.size(2), k.size(2)
        visible = self.mask[S - T : S, :S]  # (T, S): query t sees key s only if s <= t
        if self.fused:
            # The same function as the four lines below, fused by PyTorch into one kernel (about twice as fast
            # on a CPU; the tests check outputs and gradients agree). One query sees every key: no mask at all.
            mask = visible if 1 < T < S else None
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=T == S > 1,
                                                  dropout_p=self.attn_dropout.p if self.training else 0.0)
        att = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, nh, T, S)
        att = att.masked_fill(~visible, float("-inf"))
        att = F.softmax(att, dim=-1)
        return self.attn_dropout(att) @ v  # (B, nh, T, hs)

    def merge_heads(self, y: torch.Tensor) -> torch.Tensor:
        """(B, nh, T, hs) -> (B, T, C): the heads side by side again, mixed by one linear layer (rung 3's)."""
        B, nh, T, hs = y.shape
        return self.resid_dropout(self.proj(y.transpose(1, 2).contiguous().view(B, T, nh * hs)))


class FeedForward(nn.Module):
    """Rung 4, per position: widen to 4C, GELU, back to C."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(config.n_embd, 4 * config.n_embd), nn.GELU(),
                                 nn.Linear(4 * config.n_embd, config.n_embd), nn.Dropout(config.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    """Rung 5: communicate (attention), then compute (feed-forward); each adds to the residual stream."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(config.n_embd), CausalSelfAttention(config)
        self.ln2, self.ffwd = nn.LayerNorm(config.n_embd), FeedForward(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffwd(self.ln2(x))


class GPT(nn.Module):
    """Rung 6: embeddings, n_layer blocks, a last LayerNorm, and the read-out to logits (lm_head)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.block_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)
        self.apply(init_weights)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits for the next token at every position: (B, T) ids -> (B, T, vocab)."""
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"{T} positions, but the context holds {self.config.block_size}")
        positions = torch.arange(T, device=idx.device)  # (T,)
        x = self.dropout(self.token_embedding(idx) + self.position_embedding(positions))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))  # (B, T, vocab)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def init_weights(module: nn.Module) -> None:
    # Small normal weights (std 0.02) as GPT-2 does: a fresh model predicts nearly uniform
    # probabilities, so its first loss is about ln(vocab_size).
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


@torch.no_grad()
def sample(model: GPT, prompt: list[int], max_new_tokens: int, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> list[int]:
    """Write: run the model on the newest block_size tokens, draw the next from softmax(logits / T), repeat.

    Each new token runs the whole window through the network again; lesson 09 keeps what it can of
    that work (a KV cache) and adds more ways to draw.
    """
    model.eval()
    device = next(model.parameters()).device
    tokens = list(prompt)
    for _ in range(max_new_tokens):
        window = torch.tensor([tokens[-model.config.block_size:]], device=device)  # (1, T)
        logits = model(window)[0, -1].float()  # (vocab,): the scores for the token after the last
        probs = F.softmax(logits / temperature, dim=-1)
        tokens.append(int(torch.multinomial(probs.cpu(), 1, generator=generator)))
    return tokens[len(prompt):]


def ladder(config: GPTConfig) -> list[tuple[str, nn.Module]]:
    """The six rungs, each one idea more than the last, all starting from GPT's small random weights."""
    C = config.n_embd
    rungs = [
        ("bigram table", Bigram(config)),
        ("+ one attention head", LanguageModel(config, Head(config, C))),
        (f"{config.n_head} heads", LanguageModel(config, MultiHead(config))),
        ("+ feed-forward", LanguageModel(config, nn.Sequential(MultiHead(config), FeedForward(config)))),
        ("+ residual, LayerNorm", GPT(replace(config, n_layer=1))),  # one Block, below
        (f"GPT, {config.n_layer} blocks", GPT(config)),
    ]
    for _, model in rungs:
        model.apply(init_weights)
    return rungs


# ----------------------------------------------------------------------------- training and showing


def fit(model: nn.Module, train_ids: torch.Tensor, max_iters: int, batch_size: int, block_size: int,
        lr: float, seed: int, name: str) -> None:
    """AdamW on random windows: enough steps to compare rungs, not to finish training (that is 08).

    The recipe is 08's, explained there: weight decay 0.1 on weight matrices only (not on embeddings,
    LayerNorm or biases), and the learning rate of common/schedule.py, warming up over the first tenth
    of the steps, then decaying along a cosine to a tenth of its peak.
    """
    optimizer = torch.optim.AdamW(weight_decay_groups(model, 0.1), lr=lr)
    generator = torch.Generator().manual_seed(seed)  # every rung sees the same batches
    model.train()
    for step in tqdm(range(max_iters), desc=name, unit="step", leave=False, delay=1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, lr, lr / 10, max_iters // 10, max_iters)
        x, y = get_batch(train_ids, batch_size, block_size, generator)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def show_tokenizer(tokenizer: CharTokenizer) -> None:
    print(f"Characters: {len(tokenizer)} tokens: {tokenizer.vocab!r}")
    ids = tokenizer.encode(EXAMPLE)
    print(f"   encode({EXAMPLE!r}) = {ids}")
    print(f"   decode(...)          = {tokenizer.decode(ids)!r}")
    unknown = tokenizer.unknown(ODD)
    if unknown:
        print(f"   {ODD!r} holds characters the text never had ({unknown!r}): encoded as "
              f"{tokenizer.vocab[tokenizer.fallback]!r} -> {tokenizer.decode(tokenizer.encode(ODD))!r}")


def merges_text(bpe: BPETokenizer, merges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{token_text(bpe, a)!r}+{token_text(bpe, b)!r}" for a, b in merges)


def show_bpe(train_text: str, val_text: str, vocab_size: int) -> None:
    """Learn BPE on the training text and show what it learned, how much it compresses, and that nothing is unknown."""
    start = time.perf_counter()
    bpe = BPETokenizer.from_text(train_text, vocab_size)
    seconds = time.perf_counter() - start
    stopped = "" if len(bpe) == vocab_size else " (it stopped early: no pair occurred twice any more)"
    print(f"\nByte-pair encoding: {BYTES} bytes + {len(bpe.merges)} merges = {len(bpe)} tokens, learned from the "
          f"training text ({len(train_text.encode('utf-8')):,} bytes) in {seconds:.1f} s{stopped}")
    print(f"   the first merges: {merges_text(bpe, bpe.merges[:10])}")
    print(f"   the last merges:  {merges_text(bpe, bpe.merges[-5:])}")
    ids = bpe.encode(EXAMPLE)
    print(f"   {EXAMPLE!r} -> {[token_text(bpe, i) for i in ids]}: {len(ids)} tokens for {len(EXAMPLE)} characters")
    val_ids = bpe.encode(val_text)
    print(f"   the validation text: {len(val_text):,} characters -> {len(val_ids):,} tokens, "
          f"{len(val_text) / len(val_ids):.2f} characters per token")
    ids = bpe.encode(ODD)
    sizes = ", ".join(f"{ch!r} is {len(ch.encode('utf-8'))} bytes" for ch in dict.fromkeys(ODD) if ord(ch) > 127)
    print(f"   encode({ODD!r}) = {ids}: nothing is unknown, every byte has an id ({sizes}); "
          f"decode gives {bpe.decode(ids)!r}: "
          + ("the same text" if bpe.decode(ids) == ODD else "NOT the same text"))
    excerpt = train_text[:BPE_CHECK_CHARS]
    start = time.perf_counter()
    plain = learn_merges(excerpt, vocab_size)
    plain_seconds = time.perf_counter() - start
    agree = "the same" if plain == learn_merges_fast(excerpt, vocab_size) else "DIFFERENT"
    print(f"   learn_merges, the loop as written, on the first {len(excerpt):,} characters: {plain_seconds:.1f} s; "
          f"learn_merges_fast learns {agree} {len(plain)} merges there")


def attention_line(val_text: str, block_size: int) -> str:
    """A line of validation text that fits the context, for the attention picture."""
    lines = [line for line in val_text.splitlines() if 25 <= len(line) <= min(block_size, 45)]
    return lines[0] if lines else val_text[:min(block_size, 40)]


@torch.no_grad()
def attention_weights(model: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """Each block's attention weights (B, nh, T, T) on ``idx``.

    A forward hook catches them where they pass, at the input of the attention's dropout, so the
    model itself keeps nothing for the picture. The fused kernel the model trains with never forms
    the weights, so this one forward pass computes them by hand, the way rung 2 does.
    """
    weights: list[torch.Tensor] = []
    hooks = [block.attn.attn_dropout.register_forward_hook(lambda module, inputs, output: weights.append(inputs[0]))
             for block in model.blocks]
    try:
        model.eval()
        for block in model.blocks:
            block.attn.fused = False
        model(idx)
    finally:
        for block in model.blocks:
            block.attn.fused = True
        for hook in hooks:
            hook.remove()
    return weights


def plot_attention(model: GPT, tokenizer: CharTokenizer, line: str) -> plt.Figure:
    """Each head's weights in the first and last block: row t = where position t looks."""
    chars = list(line)
    weights = attention_weights(model, torch.tensor([tokenizer.encode(line)]))
    layers = sorted({0, len(model.blocks) - 1})
    n_head = model.config.n_head
    fig, axes = plt.subplots(len(layers), n_head, figsize=(4.2 * n_head, 4.4 * len(layers)), squeeze=False)
    for row, layer in enumerate(layers):
        attention = weights[layer][0]  # (nh, T, T)
        for h in range(n_head):
            ax = axes[row, h]
            ax.imshow(attention[h].numpy(), cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(chars)), [c if c != " " else "_" for c in chars], fontsize=6)
            ax.set_yticks(range(len(chars)), [c if c != " " else "_" for c in chars], fontsize=6)
            ax.set_title(f"block {layer + 1}, head {h + 1}", fontsize=10)
            ax.grid(False)
        axes[row, 0].set_ylabel("query: position t")
    for ax in axes[-1]:
        ax.set_xlabel("key: position s <= t")
    fig.suptitle(f"Attention weights on {line!r} (upper triangle empty: no position sees the future)")
    fig.tight_layout(h_pad=2.5)
    return fig


def plot_ladder(names: list[str], losses: list[float], uniform: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(9, 4))
    bars = ax.barh(range(len(names)), losses, color="tab:blue")
    ax.bar_label(bars, fmt="%.3f", padding=3)
    ax.axvline(uniform, color="k", ls="--", lw=1, label=f"uniform guess, ln {round(math.exp(uniform))}")
    ax.set(yticks=range(len(names)), yticklabels=names, xlabel="validation loss (nats per character, lower is better)",
           xlim=(0, uniform * 1.12), title="Each rung of the ladder, trained for the same number of steps")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="UTF-8 text file to learn from")
    parser.add_argument("--vocab-size", type=bpe_vocab_size, default=512,
                        help="tokens the byte-pair encoding learns up to (256 bytes + merges)")
    parser.add_argument("--max-iters", type=positive_int, default=800,
                        help="training steps per rung (08 counts its steps with the same flag)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="windows per step")
    parser.add_argument("--block-size", type=positive_int, default=64,
                        help="context length in characters")
    parser.add_argument("--n-embd", type=positive_int, default=64, help="embedding width")
    parser.add_argument("--n-head", type=positive_int, default=4, help="attention heads")
    parser.add_argument("--n-layer", type=positive_int, default=4, help="blocks in the last rung")
    parser.add_argument("--lr", type=positive_float, default=1e-2, help="peak AdamW learning rate")
    parser.add_argument("--bigram-lr", type=positive_float, default=0.1,
                        help="peak learning rate of the bigram table (each row learns only where its character occurs)")
    args = parser.parse_args()
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} is not a multiple of --n-head {args.n_head}")
    seed_everything(args.seed)
    check_figure_writable("07_ladder")

    text = read_text(args.text, min_chars=20 * (args.block_size + 1))
    train_text, val_text = split_text(text)
    tokenizer = CharTokenizer.from_text(text)
    show_tokenizer(tokenizer)
    show_bpe(train_text, val_text, args.vocab_size)
    train_ids, val_ids = (torch.tensor(tokenizer.encode(part), dtype=torch.long) for part in (train_text, val_text))
    print(f"{args.text.name}: {len(train_ids):,} characters to train on (first 90%), {len(val_ids):,} to validate on")
    config = GPTConfig(len(tokenizer), args.block_size, args.n_layer, args.n_head, args.n_embd)
    check_fits(partial(GPT, config), "the GPT rung")
    uniform = math.log(len(tokenizer))
    print(f"\nThe ladder: each rung trained for {args.max_iters} steps of {args.batch_size} windows x "
          f"{args.block_size} characters (AdamW, peak lr {args.lr}; the bigram table {args.bigram_lr}); "
          f"a uniform guess scores ln {len(tokenizer)} = {uniform:.3f}\n")

    names, losses, rows = [], [], []
    for name, model in ladder(config):
        torch.manual_seed(args.seed)
        start = time.perf_counter()
        lr = args.bigram_lr if isinstance(model, Bigram) else args.lr
        fit(model, train_ids, args.max_iters, args.batch_size, args.block_size, lr, args.seed, name)
        loss = evaluate(model, val_ids, args.block_size, characters_per_token(tokenizer)).nats_per_token
        if not math.isfinite(loss):
            raise Diverged(f"{name}: the validation loss became {loss}; try a smaller --lr")
        seconds = time.perf_counter() - start
        params = sum(p.numel() for p in model.parameters())
        change = f"{loss - losses[-1]:+.3f}" if losses else "-"
        rows.append(f"   {name:<24} {params:>10,}  {loss:8.3f}  {change:>8}  {seconds:6.1f}")
        print(rows[-1])
        names.append(name)
        losses.append(loss)
    print(f"\n   {'rung':<24} {'parameters':>10}  {'val loss':>8}  {'change':>8}  {'seconds':>6}")
    print("\n".join(rows))
    best = min(range(len(losses)), key=losses.__getitem__)
    print(f"\n   From the bigram's {losses[0]:.3f} to {losses[-1]:.3f} nats per character "
          f"({losses[-1] - losses[0]:+.3f}); the lowest is '{names[best]}' at {losses[best]:.3f}.")
    worse = [names[i] for i in range(1, len(losses)) if losses[i] > losses[i - 1]]
    if worse:
        print(f"   Not every rung helped in {args.max_iters} steps: {', '.join(worse)} ended above the rung before it.")

    gpt = model  # the last rung
    generator = torch.Generator().manual_seed(args.seed)
    sample_text = tokenizer.decode(sample(gpt, tokenizer.encode("\n"), 150, temperature=0.8, generator=generator))
    print(f"\n   The GPT after {args.max_iters} steps writes:\n   | " + sample_text.replace("\n", "\n   | "))
    print("   Lesson 08 trains it for longer, with the habits real training runs use.")

    save_figure(plot_ladder(names, losses, uniform), "07_ladder")
    line = attention_line(val_text, args.block_size)
    save_figure(plot_attention(gpt, tokenizer, line), "07_attention")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
