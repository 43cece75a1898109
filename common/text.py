"""Text for the language-model lessons (07-10): reading it, a character tokenizer, batches. Taught in
lesson 07 (the tokenizer) and lesson 08 (random windows as batches, evaluation over a whole split).

A character-level model reads and writes one character at a time, so its
tokenizer is a table: the sorted set of characters in the training text, each
given an integer id. ``encode`` turns a string into ids and ``decode`` turns
ids back into a string. A prompt may hold characters the training text never
had; they cannot be looked up, so they are replaced by a fallback character
(a space when the vocabulary has one) and reported, never a ``KeyError``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from common import TEXTS_DIR, UserError

SHAKESPEARE = TEXTS_DIR / "tinyshakespeare.txt"
TRAIN_FRACTION = 0.9  # first 90% trains, the last 10% validates, as nanoGPT splits this text


class CharTokenizer:
    """Characters <-> integer ids, with the vocabulary taken from a text."""

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

    def checksum(self) -> str:
        """A short fingerprint of the vocabulary: two models agree on ids only if this agrees."""
        return hashlib.sha256(self.vocab.encode("utf-8")).hexdigest()[:16]


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


def split_ids(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First 90% for training, last 10% for validation: contiguous, so no sentence is in both."""
    n_train = int(TRAIN_FRACTION * len(ids))
    return ids[:n_train], ids[n_train:]


def get_batch(ids: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of the text; each target is its input shifted one character on.

    Every position t of a window is a training example: from characters 0..t,
    predict character t+1. So one window of length T teaches T predictions.
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


@torch.no_grad()
def evaluate(model: torch.nn.Module, ids: torch.Tensor, block_size: int, max_windows: int | None = None,
             batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per character) over the windows of ``ids``, in eval mode (dropout off).

    The same characters every time, so two evaluations differ only because the
    model did - unlike an estimate from a few random batches.
    """
    was_training = model.training
    model.eval()
    x, y = windows(ids, block_size, max_windows)
    total = 0.0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])  # (b, T, vocab)
        total += torch.nn.functional.cross_entropy(logits.flatten(0, 1), y[i : i + batch_size].flatten(),
                                                   reduction="sum").item()
    model.train(was_training)
    return total / y.numel()
