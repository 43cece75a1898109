"""Lesson 08's BPE (and 07's characters): BPE learned as the algorithm reads and fast, round trips, bits per character, streaming."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_lesson

from common.checkpoints import save_gpt, tokenizer_size

_07, _08, _09 = load_lesson("07_simple_llm"), load_lesson("08_train_llm"), load_lesson("09_use_llm")
CharTokenizer, evaluate, GPT, GPTConfig = _07.CharTokenizer, _07.evaluate, _07.GPT, _07.GPTConfig
BPETokenizer, characters_per_token, learn_merges, learn_merges_fast, merge = (
    _08.BPETokenizer, _08.characters_per_token, _08.learn_merges, _08.learn_merges_fast, _08.merge)
stream_text, load_gpt = _09.stream_text, _08.load_gpt

# Small alphabets make repeated pairs (and runs like "aaaa", where merges overlap) likely.
texts = st.text(alphabet=st.sampled_from("aab ébc🙂\n"), max_size=200)


def test_merges_by_hand():
    # "aaabdaaabac": a+a occurs 4 times (twice in each "aaa"); then a+b and Z+a tie at 2, and the smaller pair,
    # a+b, wins; then Z+Y twice; then no pair occurs twice and learning stops.
    assert learn_merges("aaabdaaabac", 300) == [(97, 97), (97, 98), (256, 257)]
    assert merge([1, 1, 1, 1, 1], (1, 1), 9) == [9, 9, 1]  # left to right, never overlapping


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(256, 300))
def test_the_fast_version_learns_the_merges_the_plain_loop_learns(text, vocab_size):
    assert learn_merges_fast(text, vocab_size) == learn_merges(text, vocab_size)


def test_the_fast_version_agrees_on_real_text_too():
    shakespeare = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 30
    assert learn_merges_fast(shakespeare, 400) == learn_merges(shakespeare, 400)


@pytest.fixture(scope="module")
def bpe():
    rng = random.Random(0)
    words = ["the", "thee", "then", "café", "naïve", "🙂", "to", "be", "or", "not"]
    return BPETokenizer.from_text(" ".join(rng.choice(words) for _ in range(3000)), 320)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_bpe_round_trips_any_unicode_text(bpe, text):
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text and all(0 <= i < len(bpe) for i in ids)
    assert bpe.unknown(text) == ""


def test_encoding_replays_the_merges_in_the_order_learned(bpe):
    text = "then the café was naïve 🙂🙂, or not"
    ids = list(text.encode("utf-8"))
    for new, pair in enumerate(bpe.merges, start=256):
        ids = merge(ids, pair, new)
    assert bpe.encode(text) == ids and len(ids) < len(text)  # and the merges did compress it


def test_every_token_counts_the_characters_it_holds(bpe):
    text = "naïve café 🙂 then"
    ids = bpe.encode(text)
    assert int(characters_per_token(bpe)[ids].sum()) == len(text)
    emoji = BPETokenizer([]).encode("🙂")  # four byte tokens: only the first starts a character
    assert characters_per_token(BPETokenizer([]))[emoji].tolist() == [1, 0, 0, 0]


class Uniform(torch.nn.Module):
    """A model that gives every token the same score: it knows nothing."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*idx.shape, self.vocab_size)


@pytest.mark.parametrize("block_size", [4, 7, 1000])  # the tail, and a text shorter than one window
def test_bits_per_character_are_computed_the_same_way_for_both_tokenizers(bpe, block_size):
    text = "then the café was naïve, or not to be 🙂 " * 5
    for tokenizer in (CharTokenizer.from_text(text), bpe):
        ids = torch.tensor(tokenizer.encode(text))
        score = evaluate(Uniform(len(tokenizer)), ids, block_size, characters_per_token(tokenizer))
        predicted = tokenizer.decode(ids[1:].tolist())  # every token after the first is predicted, once
        assert score.nats_per_token == pytest.approx(math.log(len(tokenizer)))
        assert score.bits_per_char == pytest.approx(math.log2(len(tokenizer)) * (len(ids) - 1) / len(predicted))
        if tokenizer.kind == "char":  # one character per token: log2 of the vocabulary
            assert score.bits_per_char == pytest.approx(math.log2(len(tokenizer)))


def test_a_stream_never_yields_part_of_a_character():
    text = "Café 🙂!"
    tokenizer = BPETokenizer([])  # bytes only: é is two tokens and the emoji four
    pieces = list(stream_text(tokenizer, tokenizer.encode(text)))
    assert "".join(pieces) == text and "\ufffd" not in "".join(pieces)
    assert "🙂" in pieces  # one piece, sent when its fourth byte arrived
    broken = list(stream_text(tokenizer, [0xF0, 0x9F, ord("a")]))  # an emoji cut short by a model
    assert "".join(broken) == "\ufffda"


def test_a_tokenizer_is_stored_as_plain_data(bpe, tmp_path):
    for tokenizer in (bpe, CharTokenizer("abc")):
        save_gpt(tmp_path / "gpt.pt", GPT(GPTConfig(len(tokenizer), 8, 1, 1, 8)), tokenizer)
        restored = load_gpt(tmp_path / "gpt.pt")[1]
        assert type(restored) is type(tokenizer) and restored.encode("a café") == tokenizer.encode("a café")


@pytest.mark.parametrize("data, message", [
    ({"kind": "bpe", "merges": [[97, 98], [256, 300]]}, "merge 1 is not a pair of earlier token ids"),
    ({"kind": "bpe", "merges": [[97, 98], [97, 98]]}, "merge 1 repeats"),
    ({"kind": "bpe", "merges": [[97, True]]}, "merge 0"),
    ({"kind": "bpe", "merges": "ab"}, "not a list"),
    ({"kind": "char", "vocab": "aab"}, "distinct"),
    ({"kind": "char", "vocab": "ab\udc80"}, "not valid text"),  # a lone surrogate cannot be written as UTF-8
    ({"kind": "bpe", "merges": [[97, 97]] + [[256 + i] * 2 for i in range(60)]}, "bytes in all"),  # 2**61 bytes
    ({"kind": "pickle"}, "neither"),
    ([1, 2], "not a description"),
])
def test_a_corrupt_or_hand_edited_tokenizer_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        tokenizer_size(data)
