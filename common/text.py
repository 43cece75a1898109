"""Plumbing, taught nowhere: the texts of lessons 07-10 read, split, and their tokens shown or fingerprinted.

The tokenizers themselves are lesson 07's (characters) and lesson 08's (BPE).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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


def attention_line(val_text: str, block_size: int) -> str:
    """A line of validation text that fits the context, for lesson 07's attention picture."""
    lines = [line for line in val_text.splitlines() if 25 <= len(line) <= min(block_size, 45)]
    return lines[0] if lines else val_text[:min(block_size, 40)]


def describe(tokenizer) -> str:
    return f"{len(tokenizer)} characters" if tokenizer.kind == "char" else f"{len(tokenizer)} BPE tokens"


def token_text(tokenizer, i: int) -> str:
    """A token as text for people to read: bytes that are only part of a character show as \\x.. escapes."""
    return tokenizer.token_bytes(i).decode("utf-8", errors="backslashreplace")


def checksum(tokenizer) -> str:
    """A short fingerprint of the vocabulary: two models agree on ids only if this agrees."""
    return hashlib.sha256(b"\0".join(tokenizer.token_bytes(i) for i in range(len(tokenizer)))).hexdigest()[:16]


def merges_text(bpe, merges: list[tuple[int, int]]) -> str:
    """BPE merges as text for people to read: 'e'+' ', 't'+'h', ..."""
    return ", ".join(f"{token_text(bpe, a)!r}+{token_text(bpe, b)!r}" for a, b in merges)
