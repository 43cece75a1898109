"""Lesson 09: the sampling knobs, the KV cache against recomputing everything, and the script on both tokenizers."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import ROOT, load_lesson, run_script

_07, _09 = load_lesson("07_simple_llm"), load_lesson("09_use_llm")
GPT, GPTConfig = _07.GPT, _07.GPTConfig
generate, next_token_probs = _09.generate, _09.next_token_probs



def test_sampling_knobs_shape_the_distribution():
    logits = torch.tensor([3.0, 2.0, 1.0, 0.0, -1.0])
    assert torch.equal(next_token_probs(logits, temperature=0), torch.tensor([1.0, 0, 0, 0, 0]))
    assert torch.allclose(next_token_probs(logits, 1.0), torch.softmax(logits, 0))
    cold, hot = next_token_probs(logits, 0.5), next_token_probs(logits, 2.0)
    assert cold[0] > torch.softmax(logits, 0)[0] > hot[0]
    top2 = next_token_probs(logits, 1.0, top_k=2)
    assert (top2 > 0).sum() == 2 and torch.allclose(top2[:2], torch.softmax(logits[:2], 0))
    p = torch.softmax(logits, 0)  # 0.636, 0.234, 0.086, ...: 0.8 needs the first two, 0.5 only the first
    assert (next_token_probs(logits, 1.0, top_p=0.8) > 0).tolist() == [True, True, False, False, False]
    assert (next_token_probs(logits, 1.0, top_p=0.5) > 0).tolist() == [True, False, False, False, False]
    assert torch.allclose(next_token_probs(logits, 1.0, top_p=1.0), p)


def test_a_bpe_prompt_that_ends_where_a_longer_token_begins_is_named():
    t, h, e, a, space = map(ord, "thea ")
    bpe = load_lesson("08_train_llm").BPETokenizer([(t, h), (256, e), (257, space), (256, a)])  # th the 'the ' tha
    ids = bpe.encode("I love th")
    assert bpe.token_bytes(ids[-1]) == b"th"
    assert "the token 'th', which begins 3 longer tokens ('the', 'tha', 'the ', ...)" in _09.prompt_boundary(bpe, ids)
    assert _09.prompt_boundary(bpe, bpe.encode("I love the ")) is None  # 'the ' begins no longer token
    assert _09.prompt_boundary(_07.CharTokenizer.from_text("abc"), [0]) is None  # one character per token: no trap


def greedy_by_recomputing(model: GPT, prompt: list[int], n: int) -> list[int]:
    """Greedy text the slow, obvious way, written here apart from the lesson: the whole window through the model
    at every step. The window keeps the newest block_size // 2 tokens each time the text outgrows the context."""
    tokens, start, block_size = list(prompt), 0, model.config.block_size
    with torch.no_grad():
        for _ in range(n):
            if len(tokens) - start > block_size:
                start = len(tokens) - block_size // 2
            logits = model(torch.tensor([tokens[start:]]))[0, -1]
            tokens.append(int(logits.argmax()))
    return tokens[len(prompt):]


def test_kv_cache_gives_the_same_text_as_recomputing_everything():
    """Greedy, in float64, for three context lengths, running past the context window twice."""
    torch.manual_seed(1)
    for block_size in (8, 16, 33):
        model = GPT(GPTConfig(20, block_size=block_size, n_layer=2, n_head=2, n_embd=16)).double().eval()
        prompt = torch.randint(20, (5,)).tolist()
        n = 3 * block_size
        cached = list(generate(model, prompt, n, temperature=0, use_cache=True))
        assert cached == greedy_by_recomputing(model, prompt, n)


def test_kv_cache_logits_equal_the_full_forward_pass():
    torch.manual_seed(2)
    model = GPT(GPTConfig(20, block_size=16, n_layer=2, n_head=4, n_embd=16)).double().eval()
    idx = torch.randint(20, (1, 12))
    full = model(idx)
    cache = _09.new_cache(model)
    step = _09.forward_with_cache
    stepwise = torch.cat([step(model, idx[:, :5], cache)] + [step(model, idx[:, t:t + 1], cache) for t in range(5, 12)],
                         dim=1)
    assert torch.allclose(full, stepwise, atol=1e-12)
    with pytest.raises(ValueError, match="context holds 16"):
        step(model, torch.zeros(1, 5, dtype=torch.long), cache)  # 12 cached + 5 new > 16


def test_09_prints_each_knob_and_the_cache_speed_up(tmp_path, checkpoint):
    result = run_script("09_use_llm.py", "--checkpoint", str(checkpoint), "--prompt", "ROMEO: ¿", "--max-new-tokens",
                        "20", out=tmp_path)
    assert result.returncode == 0, result.stderr
    for knob in ("greedy", "temperature 0.5", "temperature 1.5", "top-k 5", "top-p 0.9"):
        assert f"-- {knob}" in result.stdout
    assert "'¿' not in the model's vocabulary" in result.stdout
    assert "identical, token for token" in result.stdout and "speed-up" in result.stdout
    assert (tmp_path / "figures" / "09_sampling_knobs.png").stat().st_size > 10_000


@pytest.mark.slow
def test_09_interactive_loop_answers_each_prompt(checkpoint):
    result = subprocess.run([sys.executable, str(ROOT / "09_use_llm.py"), "--checkpoint", str(checkpoint),
                             "--interactive", "--max-new-tokens", "15", "--no-show"], input="ROMEO:\nJULIET:\n\n",
                            capture_output=True, text=True, timeout=120, env={"CI": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("prompt> ") == 3



@pytest.mark.slow
def test_09_uses_a_bpe_checkpoint_and_its_cache(tmp_path, bpe_checkpoint):
    result = run_script("09_use_llm.py", "--checkpoint", str(bpe_checkpoint), "--prompt", "to 🙂", "--max-new-tokens",
                        "20", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "262 BPE tokens" in result.stdout and "vocabulary" not in result.stdout  # nothing unknown to BPE
    assert "identical, token for token" in result.stdout
