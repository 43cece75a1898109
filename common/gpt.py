"""The GPT of lessons 07-10: a decoder-only transformer, its checkpoint, and text generation.

Taught in lesson 07 (its docstring maps each class to a rung of its ladder):
GPTConfig, CausalSelfAttention, FeedForward, Block, GPT, init_weights.
Taught in lesson 09 (its docstring leads through them line by line): the KV
cache (LayerCache and the ``cache`` arguments) and sampling (next_token_probs,
window_start, generate). Plumbing no lesson teaches: saving and loading.
Lesson 08 trains this model and 10 serves it, so all four use this one
definition, written the way nanoGPT's ``model.py`` is: one screen per block,
shapes in the comments (B batch, T time, C channels, nh heads, hs head size).

    x0 = token_embedding[idx] + position_embedding[0..T-1]                   (B, T, C)
    x  = x + attention(LayerNorm(x))        # tokens look at earlier tokens
    x  = x + feed_forward(LayerNorm(x))     # each token thinks on its own
         ... n_layer times ...
    logits = head(LayerNorm(x))                                               (B, T, vocab)

Generation runs the model once per new token. A **KV cache** keeps each
layer's keys and values of the tokens already seen, so each step feeds
only the newest token instead of the whole context again (lesson 09).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from common import MODELS_DIR
from common.cli import physical_memory
from common.nets import CheckpointError, safe_torch_load
from common.records import is_finite_number, save_torch
from common.text import SHAKESPEARE
from common.tokenizers import Tokenizer, tokenizer_from_dict

CHECKPOINT_FORMAT = "nn-tutorial-gpt/2"  # /2: the tokenizer stored as plain data, scores in bits per character
MAX_SIZE = 65536  # no size of a model this series trains comes near it
MAX_BLOCKS = 1024  # building more blocks takes minutes; the models of this series have 1 to 8
DEFAULT_CHECKPOINT = MODELS_DIR / f"08_gpt_{SHAKESPEARE.stem}.pt"  # what 08 writes by default; 09 and 10 read it


# ----------------------------------------------------------------------------- the model (lesson 07)


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 128  # context: the most tokens the model sees at once
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    """All heads at once: softmax(q k^T / sqrt(hs), masked to the past) v, then a projection."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)  # queries, keys, values in one product
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.attn_dropout = nn.Dropout(config.dropout)  # on the weights (lesson 07 reads them here, with a hook)
        self.fused = True  # F.scaled_dot_product_attention; False computes the weights by hand, as lesson 07 does
        self.resid_dropout = nn.Dropout(config.dropout)  # on the output, before it joins the residual stream
        self.register_buffer("mask", torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool)),
                             persistent=False)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if cache is not None:
            past = len(cache)
            k, v = cache.extend(k, v)  # (B, nh, past + T, hs): the new positions follow the cached ones
        else:
            past = 0
        visible = self.mask[past : past + T, : past + T]  # (T, past + T): no peeking ahead
        if self.fused:
            # The same function as the four lines below, fused by PyTorch into one kernel (about twice
            # as fast on a CPU; tests/test_llm.py checks outputs and gradients agree).
            # (One new position sees every cached one: no mask at all, the fastest call.)
            mask = visible if past and T > 1 else None
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=past == 0,
                                               dropout_p=self.attn_dropout.p if self.training else 0.0)
        else:
            att = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, past + T)
            att = att.masked_fill(~visible, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = self.attn_dropout(att) @ v  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.proj(y))


class FeedForward(nn.Module):
    """Per position: widen to 4C, GELU, back to C."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(config.n_embd, 4 * config.n_embd), nn.GELU(),
                                 nn.Linear(4 * config.n_embd, config.n_embd), nn.Dropout(config.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    """Communicate (attention), then compute (feed-forward); each adds to the residual stream."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(config.n_embd), CausalSelfAttention(config)
        self.ln2, self.ffwd = nn.LayerNorm(config.n_embd), FeedForward(config)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache)
        return x + self.ffwd(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.block_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size)
        self.apply(init_weights)

    def forward(self, idx: torch.Tensor, cache: list[LayerCache] | None = None) -> torch.Tensor:
        """Logits for the next token at every position: (B, T) ids -> (B, T, vocab)."""
        B, T = idx.shape
        past = len(cache[0]) if cache else 0
        if past + T > self.config.block_size:
            raise ValueError(f"{past + T} positions, but the context holds {self.config.block_size}")
        positions = torch.arange(past, past + T, device=idx.device)  # (T,)
        x = self.dropout(self.token_embedding(idx) + self.position_embedding(positions))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, cache[i] if cache else None)
        return self.head(self.ln_f(x))  # (B, T, vocab)

    def new_cache(self) -> list[LayerCache]:
        return [LayerCache(self.config.block_size) for _ in self.blocks]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def init_weights(module: nn.Module) -> None:
    # Small normal weights (std 0.02) as GPT-2 does: a fresh model predicts nearly uniform
    # probabilities, so its first loss is about ln(vocab_size).
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


# ----------------------------------------------------------------------------- the KV cache (lesson 09)


class LayerCache:
    """One layer's keys and values for every position seen so far: (B, nh, T_seen, hs) each.

    The buffers hold a whole context and are allocated once, at the first keys; each step writes
    its new keys and values into the next free positions and attends to the filled part. Growing
    them with torch.cat instead would copy everything cached so far, at every step.
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


# ----------------------------------------------------------------------------- sampling (lesson 09)


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
        keep[order] = before < top_p
        keep[order[0]] = True  # the likeliest token always stays, however small p is
        probs = torch.where(keep, probs, 0.0)
        probs = probs / probs.sum()
    return probs.to(dtype)


def window_start(length: int, start: int, block_size: int) -> int:
    """Where the context window over ``length`` tokens starts: at ``start`` while they fit, else where it keeps
    the newest block_size // 2 (generate() explains why it jumps)."""
    return start if length - start <= block_size else length - block_size // 2


@torch.no_grad()
def generate(model: GPT, prompt: list[int], max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True) -> Iterator[int]:
    """Yield new token ids one at a time, each drawn from the model's next-token distribution.

    The context is a window over the text. Positions are learned embeddings
    0..block_size-1, so when the window is full it cannot simply slide by one:
    every cached key was computed at a position that would then be wrong. So
    when it overflows, the window jumps: it keeps the newest block_size // 2
    tokens, the cache is rebuilt from them (one "prefill"), and generation
    goes on. With use_cache=False the same window is recomputed in full at
    every step - the same numbers, much more work.
    """
    if not prompt:
        raise ValueError("the prompt needs at least one token")
    model.eval()
    device = next(model.parameters()).device
    block_size = model.config.block_size
    tokens, start, cache = list(prompt), 0, None
    for _ in range(max_new_tokens):
        jumped = window_start(len(tokens), start, block_size)
        if jumped != start:
            start, cache = jumped, None  # the window jumps; cached positions are stale
        if use_cache and cache is not None:
            new = tokens[-1:]  # only the newest token goes through the network
        else:
            new = tokens[start:]  # the whole window (the prefill, when caching)
            cache = model.new_cache() if use_cache else None
        logits = model(torch.tensor([new], device=device), cache)[0, -1]  # (vocab,)
        probs = next_token_probs(logits.float(), temperature, top_k, top_p)
        token = int(torch.multinomial(probs.cpu(), 1, generator=generator))
        tokens.append(token)
        yield token


# ----------------------------------------------------------------------------- checkpoints (plumbing)


def save_gpt(path: Path, model: GPT, tokenizer: Tokenizer, **extra) -> None:
    """Tensors, the config, the tokenizer as plain data (its characters or its merges) and plain values only;
    written atomically."""
    checkpoint = {"format": CHECKPOINT_FORMAT, "config": asdict(model.config), "tokenizer": tokenizer.to_dict(),
                  "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra}
    save_torch(path, checkpoint)


def load_gpt(path: Path) -> tuple[GPT, Tokenizer, dict]:
    """Rebuild the model and tokenizer a checkpoint of lesson 08 holds (eval mode), after checking what it claims."""
    checkpoint = safe_torch_load(path, CHECKPOINT_FORMAT, "this version of 08_train_llm.py")
    try:
        config = GPTConfig(**checkpoint["config"])
        check_config(config)
        tokenizer = tokenizer_from_dict(checkpoint["tokenizer"])
        if len(tokenizer) != config.vocab_size:
            raise ValueError(f"its tokenizer has {len(tokenizer)} tokens, the model expects {config.vocab_size}")
        if not is_finite_number(checkpoint.get("best_val_bpc", 0.0)):
            raise ValueError("its best_val_bpc is not a finite number")
        model = GPT(config)
        model.load_state_dict(checkpoint["state_dict"])
        if not all(p.isfinite().all() for p in model.parameters()):
            raise ValueError("its weights are not all finite numbers")
    except (KeyError, TypeError, ValueError, RuntimeError, AssertionError) as error:
        detail = " ".join(str(error).split())[:160]
        raise CheckpointError(f"{path}: checkpoint does not describe a usable model ({detail})") from None
    return model.eval(), tokenizer, checkpoint


def check_config(config: GPTConfig) -> None:
    """Sizes a model can be built with: whole numbers in range (a context of at least 2, for generate's window)."""
    for name, low in (("vocab_size", 1), ("block_size", 2), ("n_layer", 1), ("n_head", 1), ("n_embd", 1)):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_SIZE:
            raise ValueError(f"{name} {value!r} is not a whole number from {low} to {MAX_SIZE}")
    if config.n_embd % config.n_head:
        raise ValueError(f"n_embd {config.n_embd} is not a multiple of n_head {config.n_head}")
    if not (isinstance(config.dropout, (int, float)) and 0 <= config.dropout < 1):
        raise ValueError(f"dropout {config.dropout!r} is not in [0, 1)")
    # Each number may be fine on its own and the whole still impossible: judge the total before building anything.
    if config.n_layer > MAX_BLOCKS:
        raise ValueError(f"n_layer {config.n_layer} is more blocks than {MAX_BLOCKS}")
    parameters, memory = parameter_count(config), physical_memory()
    if memory is not None and 4 * parameters > memory / 2:
        raise ValueError(f"its {parameters:,} parameters need {4 * parameters / 2**30:,.1f} GiB, more than half of "
                         f"this computer's {memory / 2**30:,.1f} GiB")


def parameter_count(config: GPTConfig) -> int:
    """The number of parameters GPT(config) has, counted from the sizes alone (without building it)."""
    C, V = config.n_embd, config.vocab_size
    # per block: qkv 3C(C + 1), proj C(C + 1), feed-forward 4C(C + 1) + C(4C + 1), two LayerNorms 2C each
    block = 12 * C * C + 13 * C
    return V * C + config.block_size * C + config.n_layer * block + 2 * C + C * V + V  # embeddings, ln_f, head
