"""Lesson 07 - a transformer language model, built one rung at a time and trained on Shakespeare.

The question: how can a network write? A language model reads text and, at every position, outputs a
probability for each possible next character. Trained to make the true next character likely (cross-entropy,
as in lessons 03-04, with 65 classes instead of 10), it learns spelling, words and the shape of a play, and
it can then write, one character at a time, by drawing from its own predictions (``sample``).

**Tokens.** A model sees integer ids, so the text is cut into tokens, each with an id; here each distinct
character is one (65 in Shakespeare: ``CharTokenizer``). Lesson 08 adds byte-pair encoding, the tokens GPT
models read. The loss is in nats: -ln p(the right next token), the natural log's unit (a uniform guess
among 65 scores ln 65 = 4.17 nats); divided by ln 2 it is in bits (``evaluate``).

**The ladder.** Each rung adds one idea and is trained for the same number of steps on the same batches,
so its validation loss shows what the idea buys - within that short budget: not every rung need beat the
one before it (the run says which did not), and lesson 08 trains the GPT properly.

1. Bigram: a table of next-character scores given only the current character. No context: the baseline.
2. One self-attention head, on learned vectors for each token and position: position t takes an average
   of the values v_s of the positions s <= t, weighted by how well its query q_t matches their keys k_s:
       scores = Q K^T / sqrt(d)        (T x T; d = head size)
       scores[t, s] = -inf  for s > t  (the causal mask: no looking ahead)
       weights = softmax(scores, along s),   out = weights V
3. Multi-head: several smaller heads side by side, each free to look for something else.
4. + Feed-forward: a small MLP on every position, to compute with what attention gathered.
5. + Residual connections and LayerNorm: x + f(LayerNorm(x)) instead of f(x). This rung is lesson 08's
   GPT with one block, so it also brings the GPT's last LayerNorm (ln_f) and biases on q, k and v, and
   computes the same attention with PyTorch's fused kernel.
6. A GPT: n_layer such blocks stacked (rung 5 is the same with n_layer = 1).

Rungs 5 and 6 are the GPT that lessons 08-10 train, sample from and serve, one screen per piece below:
CausalSelfAttention (rungs 2-3 with all heads at once; the tests check it equals rung 3's loop),
FeedForward, Block, GPT, init_weights, and ``sample``, the plain writing loop that lesson 09 speeds up.

What to look at: figures/07_ladder.png, each rung's validation loss (the drops are what each idea bought),
and figures/07_attention.png, each head's weights over a line (a bright line one step left of the diagonal:
a head reading the character before; the run measures and prints where each head looks).

Run it:  python 07_simple_llm.py [--max-iters 800] [--text my_book.txt]   (1-2 minutes)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from common import Diverged
from common.cli import add_gpt_arguments, lesson_parser, parse_gpt_args, positive_float, run, seed_everything
from common.devices import check_fits
from common.lessons import lesson
from common.plotting import check_figure_writable, plot_attention_maps, plot_ladder, save_figure, show_or_close
from common.text import attention_line, read_text, split_text

learning_rate = lesson("03_multilayer_perceptron").learning_rate  # 03's cosine, here after a warm-up
weight_decay_groups = lesson("04_neural_network_training").weight_decay_groups  # weight matrices decay, nothing else

# The ladder's defaults (any flag overrides them): every rung trains for max_iters steps at this size.
LADDER = dict(max_iters=800, batch_size=32, block_size=64, n_layer=4, n_head=4, n_embd=64, lr=1e-2)
TIE = 0.01  # nats per character: rungs closer than this to the lowest are reported as tied with it
EXAMPLE = "To be, or not to be"
ODD = "Café 🙂"  # characters outside Shakespeare's alphabet


# ----------------------------------------------------------------------------- tokens, batches and the score
# Shapes in the comments: B batch (windows), T time (positions), C channels (n_embd), nh heads, hs head size C / nh.


class CharTokenizer:
    """Characters <-> integer ids: the vocabulary is the sorted set of characters in a text.

    Small and simple, but a character the text never had has no id: it is replaced by a fallback (a
    space, when the text has one), and ``unknown`` says which characters those were.
    """

    kind = "char"

    def __init__(self, vocab: str):
        self.vocab = vocab
        self.ids = {ch: i for i, ch in enumerate(vocab)}
        self.fallback = self.ids.get(" ", 0)

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(ch, self.fallback) for ch in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.vocab[i] for i in ids)

    def unknown(self, text: str) -> str:
        """The characters of ``text`` that are not in the vocabulary (each once, in order)."""
        return "".join(dict.fromkeys(ch for ch in text if ch not in self.ids))

    def token_bytes(self, i: int) -> bytes:
        return self.vocab[i].encode("utf-8")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab": self.vocab}


def get_batch(ids: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of the text; each target is its input shifted one token on.

    Every position t of a window is a training example (from tokens 0..t, predict token t+1), so one
    window of length T teaches T predictions.
    """
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = ids[starts[:, None] + offsets]  # (B, T)
    y = ids[starts[:, None] + offsets + 1]  # (B, T)
    return x, y


def windows(ids: torch.Tensor, block_size: int, max_windows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``ids`` cut into consecutive windows: a fixed evaluation set (or ``max_windows`` of them, spread out)."""
    n = (len(ids) - 1) // block_size
    x = ids[: n * block_size].view(n, block_size)
    y = ids[1 : n * block_size + 1].view(n, block_size)
    if max_windows is not None and n > max_windows:
        pick = torch.linspace(0, n - 1, max_windows).long()
        x, y = x[pick], y[pick]
    return x, y


class Score(NamedTuple):
    nats_per_token: float  # the mean cross-entropy the model trains on
    bits_per_char: float  # the same total over the characters the tokens hold: comparable across tokenizers


@torch.no_grad()
def evaluate(model: nn.Module, ids: torch.Tensor, block_size: int, chars: torch.Tensor | None = None,
             max_windows: int | None = None, batch_size: int = 64) -> Score:
    """Cross-entropy over the windows of ``ids``, in eval mode (dropout off), per token and per character.

    The same tokens every time, so two evaluations differ only because the model did. Without ``max_windows``
    every token after the first is predicted once (the tail in one shorter window). ``chars``: each token's
    number of characters; the total nats over the characters predicted, and over ln 2, is bits per character,
    the same measure for characters and lesson 08's BPE tokens. Without it every token is one character.
    """
    was_training = model.training
    model.eval()
    x, y = windows(ids, block_size, max_windows)
    batches = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    if max_windows is None and y.numel() < len(ids) - 1:
        batches.append((ids[y.numel() : -1][None], ids[y.numel() + 1 :][None]))  # (1, rest)
    nats = tokens = characters = 0.0
    for xb, yb in batches:
        logits = model(xb)  # (b, T, vocab)
        nats += F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum").item()
        tokens += yb.numel()
        characters += yb.numel() if chars is None else chars.to(yb.device)[yb].sum().item()
    model.train(was_training)
    return Score(nats / tokens, nats / characters / math.log(2))


# ----------------------------------------------------------------------------- the rungs


class Bigram(nn.Module):
    """Rung 1: logits for the next character read straight from a (vocab x vocab) table, ``nn.Embedding``:
    a lookup table of learned vectors (id i gives row i, as a one-hot vector times the table would, without
    the products). Here row i holds the scores of the characters that may follow character i."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.table = nn.Embedding(config.vocab_size, config.vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.table(idx)  # (B, T, vocab)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d), with the future masked out) v, for (..., T, d) tensors.

    q k^T is a sum of d products, so its spread grows like sqrt(d); dividing by sqrt(d) keeps it near 1
    whatever the head size, and softmax starts soft instead of putting all its weight on one position.
    """
    T, d = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T, T): how well query t matches key s
    future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), diagonal=1)  # s > t
    scores = scores.masked_fill(future, float("-inf"))  # exp(-inf) = 0: no weight on the future
    weights = F.softmax(scores, dim=-1)  # (..., T, T), each row sums to 1
    return weights @ v  # (..., T, d)


class Head(nn.Module):
    """Rung 2: one head of causal self-attention.

    Each position emits a query q_t ("what am I looking for"), a key k_s ("what do I contain") and a value
    v_s ("what I pass on"), all linear maps of its embedding: a learned vector looked up for its token (rung
    1's ``nn.Embedding``, one row per id) plus one looked up for its position."""

    def __init__(self, config: GPTConfig, head_size: int):
        super().__init__()
        self.query = nn.Linear(config.n_embd, head_size, bias=False)
        self.key = nn.Linear(config.n_embd, head_size, bias=False)
        self.value = nn.Linear(config.n_embd, head_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return causal_attention(self.query(x), self.key(x), self.value(x))  # (B, T, C) -> (B, T, hs)


class MultiHead(nn.Module):
    """Rung 3: n_head heads of size C / n_head, side by side, concatenated and mixed by a linear layer.
    Each head is free to look for something else (the character before, the start of the word, ...)."""

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
# One screen per piece, as nanoGPT's model.py (Andrej Karpathy's small GPT, which this one follows).


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
        self.resid_dropout = nn.Dropout(config.dropout)  # on the output, before it joins the residual stream (Block)
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
    """Rung 4, per position: widen to 4C, GELU, back to C.

    Attention moves information between positions; this small MLP then computes with it, at every position
    on its own. GELU is a smooth ReLU: x times the chance that a standard normal number is below x.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(config.n_embd, 4 * config.n_embd), nn.GELU(),
                                 nn.Linear(4 * config.n_embd, config.n_embd), nn.Dropout(config.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    """Rung 5: communicate (attention), then compute (feed-forward); each adds to the residual stream.

    The residual stream is x itself, passed from block to block: each part adds its output to it instead
    of replacing it, so the identity path lets gradients flow straight through many blocks. LayerNorm
    rescales each position's vector to mean 0 and variance 1 (then by a learned scale and shift), so its
    size stays steady whatever the blocks before it added.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(config.n_embd), CausalSelfAttention(config)
        self.ln2, self.ffwd = nn.LayerNorm(config.n_embd), FeedForward(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffwd(self.ln2(x))


def init_weights(module: nn.Module) -> None:
    # Small normal weights (std 0.02), as GPT-2's: a fresh model predicts nearly uniformly, first loss ~ ln(vocab).
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


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
        x = self.dropout(self.token_embedding(idx) + self.position_embedding(torch.arange(T, device=idx.device)))
        for block in self.blocks:  # x: (B, T, C) throughout
            x = block(x)
        return self.lm_head(self.ln_f(x))  # (B, T, vocab)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


@torch.no_grad()
def sample(model: GPT, prompt: list[int], max_new_tokens: int, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> list[int]:
    """Write: run the model on the newest block_size tokens, draw the next from softmax(logits / temperature).

    A temperature below 1 sharpens the probabilities, above 1 flattens them. Each new token runs the whole
    window through the network again; lesson 09 keeps what it can of that work (a KV cache).
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


def sample_text(model: GPT, tokenizer: CharTokenizer, seed: int, n: int) -> str:
    """``n`` characters (at most: n tokens are drawn) at temperature 0.8, always from a new line and the same
    seed, so that samples of one model taken at different steps compare."""
    generator = torch.Generator().manual_seed(seed)
    return tokenizer.decode(sample(model, tokenizer.encode("\n"), n, temperature=0.8, generator=generator))[:n]


def ladder(config: GPTConfig) -> list[tuple[str, nn.Module]]:
    """The six rungs, each one idea more than the last, all starting from GPT's small random weights."""
    rungs = [
        ("bigram table", Bigram(config)),
        ("+ one attention head", LanguageModel(config, Head(config, config.n_embd))),
        (f"{config.n_head} heads", LanguageModel(config, MultiHead(config))),
        ("+ feed-forward", LanguageModel(config, nn.Sequential(MultiHead(config), FeedForward(config)))),
        ("+ residual, LayerNorm", GPT(replace(config, n_layer=1))),  # one Block
        (f"GPT, {config.n_layer} blocks", GPT(config)),
    ]
    for _, model in rungs:
        model.apply(init_weights)
    return rungs


# ----------------------------------------------------------------------------- training and showing


def fit(model: nn.Module, train_ids: torch.Tensor, max_iters: int, batch_size: int, block_size: int,
        lr: float, seed: int, name: str) -> None:
    """AdamW on random windows: enough steps to compare rungs, not to finish training (that is 08).

    Decoupled weight decay 0.1 on weight matrices only (lessons 03 and 04), and lesson 03's learning_rate (whose
    docstring says why the warm-up): a warm-up over the first tenth of the steps, then a cosine to a tenth of the peak.
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
    if unknown := tokenizer.unknown(ODD):
        print(f"   {ODD!r} holds characters the text never had ({unknown!r}): encoded as "
              f"{tokenizer.vocab[tokenizer.fallback]!r} -> {tokenizer.decode(tokenizer.encode(ODD))!r}")


@torch.no_grad()
def attention_weights(model: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """Each block's attention weights (B, nh, T, T) on ``idx``.

    A forward hook (a function PyTorch calls every time a module runs, with its inputs and output) catches
    them where they pass, at the input of the attention's dropout, so the model keeps nothing for the picture.
    The fused kernel the model trains with never forms the weights: this forward pass computes them by hand.
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
        for block, hook in zip(model.blocks, hooks):
            block.attn.fused = True
            hook.remove()
    return weights


def where_it_looks(weights: torch.Tensor) -> list[str]:
    """(nh, T, T) weights -> for each head, in words, the distance back (0: itself) that gets most of its weight."""
    shares = torch.stack([weights.diagonal(-d, dim1=1, dim2=2).mean(-1) for d in range(8)], dim=1)  # (nh, 8)
    return [f"{share.max():.0%} on " + ("itself" if d == 0 else "the one before" if d == 1 else f"{d} back")
            if share.max() >= 0.25 else f"spread out: at most {share.max():.0%} at one distance"
            for share, d in zip(shares, shares.argmax(1).tolist())]


def main() -> None:
    parser = lesson_parser(__doc__)
    add_gpt_arguments(parser, LADDER)
    parser.add_argument("--bigram-lr", type=positive_float, default=0.1,
                        help="peak learning rate of the bigram table (each row learns only where its character occurs)")
    args = parse_gpt_args(parser)
    seed_everything(args.seed)
    check_figure_writable("07_ladder")

    text = read_text(args.text, min_chars=20 * (args.block_size + 1))
    train_text, val_text = split_text(text)
    tokenizer = CharTokenizer.from_text(text)
    show_tokenizer(tokenizer)
    train_ids, val_ids = (torch.tensor(tokenizer.encode(part), dtype=torch.long) for part in (train_text, val_text))
    print(f"{args.text.name}: {len(train_ids):,} characters to train on (first 90%), {len(val_ids):,} to validate on")
    config = GPTConfig(len(tokenizer), args.block_size, args.n_layer, args.n_head, args.n_embd)
    check_fits(partial(GPT, config), "the GPT rung")
    uniform = math.log(len(tokenizer))
    print(f"\nThe ladder: each rung trained for {args.max_iters} steps of {args.batch_size} windows x "
          f"{args.block_size} characters (AdamW, peak lr {args.lr}; the bigram table {args.bigram_lr}); "
          f"a uniform guess scores ln {len(tokenizer)} = {uniform:.3f}\n")

    names, losses = [], []
    print(f"   {'rung':<24} {'parameters':>10}  {'val loss':>8}  {'change':>8}  {'seconds':>6}")
    for name, model in ladder(config):
        torch.manual_seed(args.seed)
        start = time.perf_counter()
        lr = args.bigram_lr if isinstance(model, Bigram) else args.lr
        fit(model, train_ids, args.max_iters, args.batch_size, args.block_size, lr, args.seed, name)
        loss = evaluate(model, val_ids, args.block_size).nats_per_token
        if not math.isfinite(loss):
            raise Diverged(f"{name}: the validation loss became {loss}; try a smaller --lr")
        seconds = time.perf_counter() - start
        change = f"{loss - losses[-1]:+.3f}" if losses else "-"
        parameters = sum(p.numel() for p in model.parameters())
        print(f"   {name:<24} {parameters:>10,}  {loss:8.3f}  {change:>8}  {seconds:6.1f}")
        names.append(name)
        losses.append(loss)
    best = min(losses)
    lowest = [name for name, loss in zip(names, losses) if loss < best + TIE]  # closer than TIE: a tie
    print(f"\n   From the bigram's {losses[0]:.3f} to {losses[-1]:.3f} nats per character "
          f"({losses[-1] - losses[0]:+.3f}); the lowest: " + " and ".join(f"'{name}'" for name in lowest)
          + (f", within {TIE} of each other" if len(lowest) > 1 else "") + f", at {best:.3f}.")
    if worse := [names[i] for i in range(1, len(losses)) if losses[i] > losses[i - 1]]:
        print(f"   Not every rung helped in {args.max_iters} steps: {', '.join(worse)} ended above the rung before it.")

    written = sample_text(model, tokenizer, args.seed, 150)  # model: the last rung, the GPT
    print(f"\n   The GPT after {args.max_iters} steps writes (lesson 08 trains it for longer):\n   | "
          + written.replace("\n", "\n   | "))

    save_figure(plot_ladder(names, losses, uniform), "07_ladder")
    measured = attention_weights(model, windows(val_ids, args.block_size, 64)[0])  # each (64, nh, T, T)
    notes = {(b, h): note for b in sorted({0, len(measured) - 1})  # the blocks the picture shows
             for h, note in enumerate(where_it_looks(measured[b].mean(0)))}
    print("\n   Where each head looks (the distance back with its largest mean weight, on 64 validation windows):\n"
          + "\n".join(f"   block {b + 1}, head {h + 1}: {note}" for (b, h), note in notes.items()))
    line = attention_line(val_text, args.block_size)
    weights = attention_weights(model, torch.tensor([tokenizer.encode(line)]))
    save_figure(plot_attention_maps([w[0].numpy() for w in weights], list(line), notes), "07_attention")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
