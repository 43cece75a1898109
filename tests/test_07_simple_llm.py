"""Lesson 07: the character tokenizer, attention against PyTorch, the causal mask, the GPT learning, the ladder.

BPE, lesson 08's, has its own file, tests/test_08_tokenizers.py."""

from __future__ import annotations

import math
from dataclasses import asdict

import pytest
import torch
from conftest import PATTERN, load_lesson, run_script
from torch.nn import functional as F

from common.checkpoints import gpt_parameter_count
from common.text import checksum

_07 = load_lesson("07_simple_llm")
CharTokenizer, evaluate, get_batch = _07.CharTokenizer, _07.evaluate, _07.get_batch
characters_per_token = load_lesson("08_train_llm").characters_per_token
GPT, GPTConfig, CausalSelfAttention = _07.GPT, _07.GPTConfig, _07.CausalSelfAttention
lesson09 = load_lesson("09_use_llm")  # the cache


@pytest.fixture(scope="module")
def lesson07(lesson):
    return lesson("07_simple_llm")


def tiny_config(**changes) -> GPTConfig:
    return GPTConfig(**{"vocab_size": 11, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 16} | changes)


# ----------------------------------------------------------------------------- text


def test_tokenizer_round_trip_and_unknown_characters():
    tokenizer = CharTokenizer.from_text("hello world")
    assert tokenizer.vocab == " dehlorw"
    assert tokenizer.decode(tokenizer.encode("hello world")) == "hello world"
    assert tokenizer.unknown("hex!") == "x!"
    assert tokenizer.decode(tokenizer.encode("hex!")) == "he  "  # unknown characters become the space
    assert checksum(CharTokenizer("ab")) != checksum(CharTokenizer("ba"))


# ----------------------------------------------------------------------------- attention


def test_attention_equals_pytorch_scaled_dot_product_attention(lesson07):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 5, dtype=torch.float64) for _ in range(3))
    ours = lesson07.causal_attention(q, k, v)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(ours, theirs, atol=1e-10, rtol=0)


def test_attention_gradients_pass_gradcheck(lesson07):
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 2, 5, 3, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lesson07.causal_attention, (q, k, v), eps=1e-6, atol=1e-8)


def test_no_position_attends_to_the_future(lesson07):
    """Changing later characters never changes the predictions at earlier positions."""
    torch.manual_seed(2)
    config = tiny_config()
    idx = torch.randint(11, (1, 16))
    changed = idx.clone()
    changed[0, 9:] = (changed[0, 9:] + 1) % 11
    for _, model in lesson07.ladder(config):
        model.double().eval()  # fresh logits are tiny (~1e-7): compare in float64, relative to their size
        a, b = model(idx), model(changed)
        assert torch.allclose(a[0, :9], b[0, :9], rtol=1e-12, atol=0)
        assert not torch.allclose(a[0, 9:], b[0, 9:], rtol=1e-3, atol=0)


def test_attention_weights_are_lower_triangular_rows_summing_to_one(lesson07):
    model = GPT(tiny_config()).eval()
    att = lesson07.attention_weights(model, torch.randint(11, (2, 10)))[1]  # block 2: (B, nh, T, T)
    assert torch.all(att.triu(diagonal=1) == 0)
    assert torch.allclose(att.sum(-1), torch.ones(2, 2, 10))


def test_where_each_head_looks_is_read_from_its_weights(lesson07):
    T = 20
    itself = torch.eye(T)  # every position looks only at itself
    before = torch.diag(torch.ones(T - 1), -1)  # ... only at the one before it (position 0 has nothing before it)
    before[0, 0] = 1.0
    mostly = 0.6 * itself + 0.4 * before  # 60% on itself (and position 0, all on itself): (1 + 19 * 0.6) / 20
    mostly[0, 0] = 1.0
    spread = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]  # every earlier position alike: 1 / (t + 1)
    assert lesson07.where_it_looks(torch.stack([itself, before, mostly, spread])) == [
        "100% on itself", "100% on the one before", "62% on itself", "spread out: at most 18% at one distance"]


def copy_multihead_into(attention: CausalSelfAttention, multihead) -> None:
    """Put lesson 07's per-head query/key/value matrices into the batched layer's one qkv matrix."""
    with torch.no_grad():
        for part, name in enumerate(("query", "key", "value")):
            weight = torch.cat([getattr(head, name).weight for head in multihead.heads])  # (C, C)
            C = weight.size(0)
            attention.qkv.weight[part * C:(part + 1) * C] = weight
            attention.qkv.bias[part * C:(part + 1) * C] = 0
        attention.proj.load_state_dict(multihead.proj.state_dict())


def test_batched_heads_compute_the_same_as_the_loop_over_heads(lesson07):
    """The GPT's all-heads-at-once attention is rung 3, written for speed."""
    torch.manual_seed(3)
    config = tiny_config()
    ours = lesson07.MultiHead(config).double()
    batched = CausalSelfAttention(config).double().eval()
    copy_multihead_into(batched, ours)
    x = torch.randn(3, 12, config.n_embd, dtype=torch.float64)
    for fused in (True, False):
        batched.fused = fused
        assert torch.allclose(ours(x), batched(x), atol=1e-12)


@pytest.mark.parametrize("cached", [False, True])
def test_the_fused_kernel_computes_what_the_lines_written_out_compute(cached):
    """scaled_dot_product_attention against the by-hand softmax: outputs, and (without a cache) every gradient."""
    config = tiny_config()
    results = []
    for fused in (True, False):
        torch.manual_seed(4)  # the same weights and input for both
        model = GPT(config).double()
        for block in model.blocks:
            block.attn.fused = fused
        idx = torch.randint(config.vocab_size, (2, 10))
        if cached:  # a prefill of 6 positions, then 4 more at once against the cache (generation: no gradients)
            cache = lesson09.new_cache(model)
            with torch.no_grad():
                logits = torch.cat([lesson09.forward_with_cache(model, idx[:, :6], cache),
                                    lesson09.forward_with_cache(model, idx[:, 6:], cache)], dim=1)
            results.append((logits, []))
        else:
            logits = model(idx)
            logits.square().mean().backward()
            results.append((logits.detach(), [p.grad for p in model.parameters()]))
    (fused_out, fused_grads), (hand_out, hand_grads) = results
    assert torch.allclose(fused_out, hand_out, atol=1e-12, rtol=0)
    assert len(fused_grads) == len(hand_grads) == (0 if cached else len(list(model.parameters())))
    assert all(torch.allclose(a, b, atol=1e-12, rtol=1e-9) for a, b in zip(fused_grads, hand_grads))


# ----------------------------------------------------------------------------- learning


def bigram_entropy(ids: torch.Tensor, vocab: int) -> float:
    """The best a bigram can do on ``ids``: the conditional entropy of next given current, from counts."""
    counts = torch.zeros(vocab, vocab)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    p = counts / counts.sum(1, keepdim=True).clamp(min=1)
    return float(-(counts * torch.log(p.clamp(min=1e-30))).sum() / counts.sum())


def test_a_small_gpt_beats_the_best_possible_bigram_after_a_few_steps():
    text = PATTERN * 40
    tokenizer = CharTokenizer.from_text(text)
    ids = torch.tensor(tokenizer.encode(text))
    config = GPTConfig(len(tokenizer), block_size=32, n_layer=2, n_head=2, n_embd=32)
    torch.manual_seed(0)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        x, y = get_batch(ids, 16, 32, generator)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    loss = evaluate(model, ids, 32, characters_per_token(tokenizer)).nats_per_token
    baseline = bigram_entropy(ids, len(tokenizer))
    assert baseline > 0.3  # context matters in this text: 't' is followed by 'h', ' ' or 'o'
    assert loss < baseline - 0.2, (loss, baseline)


def test_the_size_check_counts_the_parameters_the_model_has():
    """08-10 refuse a checkpoint too large to build by counting its parameters from the sizes alone."""
    for config in (tiny_config(), GPTConfig(65, 128, 4, 4, 128), GPTConfig(3, 2, 1, 1, 1), GPTConfig(300, 8, 3, 3, 24)):
        assert gpt_parameter_count(asdict(config)) == GPT(config).num_parameters()


def test_fresh_model_predicts_nearly_uniformly():
    model = GPT(tiny_config())
    ids = torch.randint(11, (400,))
    assert abs(evaluate(model, ids, 16, torch.ones(11, dtype=torch.long)).nats_per_token - math.log(11)) < 0.05


# ----------------------------------------------------------------------------- the scripts


def test_07_prints_the_ladder_and_saves_its_figures(tmp_path, small_text):
    result = run_script("07_simple_llm.py", "--text", str(small_text), "--max-iters", "15", "--block-size", "32",
                        "--n-embd", "32", "--n-layer", "2", out=tmp_path)
    assert result.returncode == 0, result.stderr
    for rung in ("bigram table", "+ one attention head", "4 heads", "+ feed-forward", "+ residual, LayerNorm",
                 "GPT, 2 blocks"):
        assert rung in result.stdout
    for name in ("07_ladder", "07_attention"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 10_000
    assert "block 1, head 1: " in result.stdout and "block 2, head 4: " in result.stdout  # where each head looks
