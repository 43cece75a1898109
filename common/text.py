"""Text for the language-model lessons (07-10): reading it, splitting it, batches, scoring a model on it.
Taught in lesson 08 (random windows as batches, evaluation over a whole split, bits per character); the
tokenizers that turn it into ids are lesson 07's, in common/tokenizers.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import torch

from common import TEXTS_DIR, UserError

SHAKESPEARE = TEXTS_DIR / "tinyshakespeare.txt"
TRAIN_FRACTION = 0.9  # first 90% trains, the last 10% validates, as nanoGPT splits this text


def read_text(path: Path, min_chars: int) -> str:
    """Read a UTF-8 text file, refusing (in one line) what cannot be trained on."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    data = path.read_bytes()
    if b"\x00" in data:
        raise UserError(f"{path}: looks binary (it holds NUL bytes); give a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start} cannot be decoded)") from None
    if len(text) < min_chars:
        raise UserError(f"{path}: too short to train on ({len(text):,} characters; need at least {min_chars:,})")
    return text


def split_text(text: str) -> tuple[str, str]:
    """The first 90% of the characters for training, the last 10% for validation: contiguous, so no sentence is
    in both, and split before tokenizing, so models with different tokenizers validate on the same characters."""
    n_train = int(TRAIN_FRACTION * len(text))
    return text[:n_train], text[n_train:]


def get_batch(ids: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of the text; each target is its input shifted one token on.

    Every position t of a window is a training example: from tokens 0..t,
    predict token t+1. So one window of length T teaches T predictions.
    """
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = ids[starts[:, None] + offsets]  # (B, T)
    y = ids[starts[:, None] + offsets + 1]  # (B, T)
    return x, y


def windows(ids: torch.Tensor, block_size: int, max_windows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``ids`` cut into consecutive, non-overlapping windows: a deterministic evaluation set.

    With ``max_windows``, only that many of them, evenly spread over the text.
    """
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
def evaluate(model: torch.nn.Module, ids: torch.Tensor, block_size: int, chars: torch.Tensor,
             max_windows: int | None = None, batch_size: int = 64) -> Score:
    """Cross-entropy over the windows of ``ids``, in eval mode (dropout off), per token and per character.

    The same tokens every time, so two evaluations differ only because the model did - unlike an estimate
    from a few random batches. Without ``max_windows`` every token after the first is predicted once (the
    tail that fills no whole window in one shorter window). ``chars`` holds each token's number of characters
    (common/tokenizers.py's characters_per_token): the total nats divided by the characters predicted, and by
    ln 2, is bits per character, the same measure for a model of characters and one of BPE tokens.
    """
    was_training = model.training
    model.eval()
    x, y = windows(ids, block_size, max_windows)
    batches = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    if max_windows is None and y.numel() < len(ids) - 1:
        batches.append((ids[y.numel() : -1][None], ids[y.numel() + 1 :][None]))  # (1, rest)
    chars = chars.to(ids.device)
    nats = tokens = characters = 0.0
    for xb, yb in batches:
        logits = model(xb)  # (b, T, vocab)
        nats += torch.nn.functional.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum").item()
        tokens += yb.numel()
        characters += chars[yb].sum().item()
    model.train(was_training)
    return Score(nats / tokens, nats / characters / math.log(2))
