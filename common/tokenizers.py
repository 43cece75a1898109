"""Two tokenizers for lessons 07-10: one id per character, and byte-pair encoding (BPE). Taught in
lesson 07, which builds both, trains BPE on the training text and prints what it learned.

A model reads and writes integer ids, so text must be cut into pieces (tokens)
that each get an id. ``encode`` turns a string into ids, ``decode`` turns ids
back into the string.

**Characters.** The vocabulary is the sorted set of characters in the text.
Simple and small (65 ids for Shakespeare), but every character costs the model
one step, and a character the text never had cannot be looked up: it is
replaced by a fallback (a space when the vocabulary has one) and reported.

**Byte-pair encoding** (how GPT-2 and its successors tokenize). Start from the
256 possible byte values of UTF-8 text, so nothing is ever unknown: an é is two
bytes, an emoji four. Then learn from the training text:

    repeat until the vocabulary has vocab_size tokens:
        count every adjacent pair of tokens in the text
        the most frequent pair (a, b) becomes a new token: merge every a b into it

The first merges join frequent letter pairs ("e" + " ", "t" + "h"); later ones
build syllables and whole words (" the", "ing"). Encoding a new text replays
the merges in the order they were learned; decoding concatenates each token's
bytes. A token may hold part of a character, so a stream of tokens is decoded
by a UTF-8 decoder that waits for a character's last byte (``stream_text``).

``learn_merges`` is that loop as written; ``learn_merges_fast`` is the same
loop on NumPy arrays (the same counts and merges, every position at once),
which trains on a megabyte in seconds. The tests check they learn the same merges.
"""

from __future__ import annotations

import codecs
import hashlib
from collections import Counter
from typing import Iterable, Iterator

import numpy as np
import torch

BYTES = 256  # the first BPE tokens: one per byte value
MAX_TOKEN_BYTES = 1_000_000  # all tokens' bytes together; 4,096 tokens learned from any text hold far fewer


# ----------------------------------------------------------------------------- one id per character


class CharTokenizer:
    """Characters <-> integer ids, with the vocabulary taken from a text."""

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


# ----------------------------------------------------------------------------- byte-pair encoding


def most_frequent_pair(ids: list[int]) -> tuple[tuple[int, int], int]:
    """The adjacent pair seen most often and its count; ties go to the smallest pair (so any method agrees)."""
    counts = Counter(zip(ids, ids[1:]))
    pair = min(counts, key=lambda p: (-counts[p], p))
    return pair, counts[pair]


def merge(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """Every occurrence of ``pair`` replaced by ``new``, left to right (in "aaa", a+a merges once)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def learn_merges(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """BPE training as the algorithm reads: count all pairs, merge the most frequent, repeat.

    It stops early when no pair occurs twice: a merge that saves one token would only memorise.
    """
    ids = list(text.encode("utf-8"))
    merges = []
    for new in range(BYTES, vocab_size):
        if len(ids) < 2:
            break
        pair, count = most_frequent_pair(ids)
        if count < 2:
            break
        ids = merge(ids, pair, new)
        merges.append(pair)
    return merges


def merge_array(ids: np.ndarray, pair: tuple[int, int], new: int) -> np.ndarray:
    """``merge`` on a NumPy array: every position tested at once instead of one by one."""
    a, b = pair
    starts = (ids[:-1] == a) & (ids[1:] == b)  # where the pair begins
    if a == b:  # in a run a a a a the loop merges at its 1st, 3rd, ... position: drop the overlapping starts
        index = np.arange(len(starts))
        run_begins = starts & ~np.concatenate(([False], starts[:-1]))
        run_start = np.maximum.accumulate(np.where(run_begins, index, 0))
        starts &= (index - run_start) % 2 == 0
    out = ids.copy()
    out[:-1][starts] = new
    keep = np.ones(len(ids), dtype=bool)
    keep[1:][starts] = False  # the second half of every merged pair
    return out[keep]


def byte_ids(text: str) -> np.ndarray:
    """The UTF-8 bytes of ``text`` as token ids 0-255, in an array that merged ids above 255 fit in."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def learn_merges_fast(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """``learn_merges`` with every pair counted at once: pair (a, b) is the number a * vocab_size + b, and
    np.bincount counts them all; argmax takes the first largest count, the smallest pair - the same tie rule."""
    ids = byte_ids(text)
    merges = []
    for new in range(BYTES, vocab_size):
        if len(ids) < 2:
            break
        counts = np.bincount(ids[:-1] * vocab_size + ids[1:])
        code = int(counts.argmax())
        if counts[code] < 2:
            break
        pair = divmod(code, vocab_size)
        ids = merge_array(ids, pair, new)
        merges.append(pair)
    return merges


class BPETokenizer:
    """Byte-level BPE: ids 0-255 are bytes, id 256 + i is merge i, the pair of earlier tokens it joined."""

    kind = "bpe"

    def __init__(self, merges: list[tuple[int, int]]):
        self.merges = [tuple(pair) for pair in merges]
        self.pieces = [bytes([i]) for i in range(BYTES)]
        for a, b in self.merges:
            self.pieces.append(self.pieces[a] + self.pieces[b])

    @classmethod
    def from_text(cls, text: str, vocab_size: int) -> "BPETokenizer":
        return cls(learn_merges_fast(text, vocab_size))

    def __len__(self) -> int:
        return len(self.pieces)

    def encode(self, text: str) -> list[int]:
        """The UTF-8 bytes, then every merge replayed in the order it was learned."""
        ids = byte_ids(text)
        for new, pair in enumerate(self.merges, start=BYTES):
            if len(ids) < 2:
                break
            ids = merge_array(ids, pair, new)
        return ids.tolist()

    def decode(self, ids: list[int]) -> str:
        # Ids drawn by a model may end mid-character or join bytes that form none: those show as U+FFFD.
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")

    def unknown(self, text: str) -> str:
        return ""  # every text is bytes, and every byte is a token

    def token_bytes(self, i: int) -> bytes:
        return self.pieces[i]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "merges": [list(pair) for pair in self.merges]}


# ----------------------------------------------------------------------------- what every lesson after 07 uses


Tokenizer = CharTokenizer | BPETokenizer


def describe(tokenizer: Tokenizer) -> str:
    return f"{len(tokenizer)} characters" if tokenizer.kind == "char" else f"{len(tokenizer)} BPE tokens"


def token_text(tokenizer: Tokenizer, i: int) -> str:
    """A token as text for people to read: bytes that are only part of a character show as \\x.. escapes."""
    return tokenizer.token_bytes(i).decode("utf-8", errors="backslashreplace")


def characters_per_token(tokenizer: Tokenizer) -> torch.Tensor:
    """How many characters each token holds (vocab,): bits per character divide by their sum.

    A UTF-8 character is one leading byte and 0-3 continuation bytes (10xxxxxx), so counting the bytes that are
    not continuations counts characters - also in a token that holds only part of one.
    """
    return torch.tensor([sum(byte & 0xC0 != 0x80 for byte in tokenizer.token_bytes(i)) for i in range(len(tokenizer))])


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


def checksum(tokenizer: Tokenizer) -> str:
    """A short fingerprint of the vocabulary: two models agree on ids only if this agrees."""
    return hashlib.sha256(b"\0".join(tokenizer.token_bytes(i) for i in range(len(tokenizer)))).hexdigest()[:16]


def tokenizer_from_dict(data: dict) -> Tokenizer:
    """The tokenizer a checkpoint stores as plain data, checked: ValueError names what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("its tokenizer is not a description")
    if data.get("kind") == "char":
        vocab = data.get("vocab")
        if not (isinstance(vocab, str) and vocab and len(set(vocab)) == len(vocab)):
            raise ValueError("its character vocabulary is not a string of distinct characters")
        try:
            vocab.encode("utf-8")
        except UnicodeEncodeError:  # e.g. a lone surrogate, half of a UTF-16 pair: no text holds one
            raise ValueError("its character vocabulary holds a character that is not valid text") from None
        return CharTokenizer(vocab)
    if data.get("kind") == "bpe":
        merges = data.get("merges")
        if not isinstance(merges, list):
            raise ValueError("its BPE merges are not a list")
        seen = set()
        for n, pair in enumerate(merges):
            # merge n may only join tokens that exist before it: the bytes and merges 0..n-1
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < BYTES + n for i in pair)):
                raise ValueError(f"BPE merge {n} is not a pair of earlier token ids")
            if tuple(pair) in seen:
                raise ValueError(f"BPE merge {n} repeats an earlier merge")
            seen.add(tuple(pair))
        # Each merge joins two earlier tokens, so a hand-made chain (a+a, then that+that, ...) doubles its
        # token's length at every step: count the bytes before making them.
        lengths, total = [1] * BYTES, BYTES
        for a, b in merges:
            lengths.append(lengths[a] + lengths[b])
            total += lengths[-1]
            if total > MAX_TOKEN_BYTES:
                raise ValueError(f"its BPE merges make tokens of more than {MAX_TOKEN_BYTES:,} bytes in all")
        return BPETokenizer(merges)
    raise ValueError(f"its tokenizer kind {str(data.get('kind'))[:20]!r} is neither 'char' nor 'bpe'")
