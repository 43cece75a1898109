"""Lessons 09-10: sampling, the KV cache, and the web service (FastAPI's test client and a real uvicorn)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, assert_one_line_error, run_script
from fastapi.testclient import TestClient

from common.gpt import GPT, GPTConfig, generate, next_token_probs, save_gpt
from common.text import CharTokenizer

VOCAB = "\n !,.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small random model with a real vocabulary, saved as lesson 08 would."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(len(VOCAB), block_size=32, n_layer=2, n_head=2, n_embd=32))
    path = tmp_path_factory.mktemp("models") / "08_gpt_test.pt"
    save_gpt(path, model, CharTokenizer(VOCAB), best_val_loss=2.0, text="test.txt")
    return path


@pytest.fixture(scope="module")
def deploy(lesson):
    return lesson("10_deploy_llm")


@pytest.fixture()
def client(deploy, checkpoint):
    with TestClient(deploy.load_app(checkpoint)) as test_client:
        yield test_client


# ----------------------------------------------------------------------------- sampling and the cache


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


def test_kv_cache_gives_the_same_text_as_recomputing_everything():
    """Greedy, in float64, for three context lengths, running past the context window twice."""
    torch.manual_seed(1)
    for block_size in (8, 16, 33):
        model = GPT(GPTConfig(20, block_size=block_size, n_layer=2, n_head=2, n_embd=16)).double()
        prompt = torch.randint(20, (5,)).tolist()
        n = 3 * block_size
        cached = list(generate(model, prompt, n, temperature=0, use_cache=True))
        recomputed = list(generate(model, prompt, n, temperature=0, use_cache=False))
        assert cached == recomputed


def test_kv_cache_logits_equal_the_full_forward_pass():
    torch.manual_seed(2)
    model = GPT(GPTConfig(20, block_size=16, n_layer=2, n_head=4, n_embd=16)).double().eval()
    idx = torch.randint(20, (1, 12))
    full = model(idx)
    cache = model.new_cache()
    stepwise = torch.cat([model(idx[:, :5], cache)] + [model(idx[:, t:t + 1], cache) for t in range(5, 12)], dim=1)
    assert torch.allclose(full, stepwise, atol=1e-12)
    with pytest.raises(ValueError, match="context holds 16"):
        model(torch.zeros(1, 5, dtype=torch.long), cache)  # 12 cached + 5 new > 16


def test_09_prints_each_knob_and_the_cache_speed_up(tmp_path, checkpoint):
    result = run_script("09_use_llm.py", "--checkpoint", str(checkpoint), "--prompt", "ROMEO: ¿", "--max-new-tokens",
                        "20", out=tmp_path)
    assert result.returncode == 0, result.stderr
    for knob in ("greedy", "temperature 0.5", "temperature 1.5", "top-k 5", "top-p 0.9"):
        assert f"-- {knob}" in result.stdout
    assert "'¿' not in the model's vocabulary" in result.stdout
    assert "identical, character for character" in result.stdout and "speed-up" in result.stdout
    assert (tmp_path / "figures" / "09_sampling_knobs.png").stat().st_size > 10_000


def test_09_interactive_loop_answers_each_prompt(checkpoint):
    result = subprocess.run([sys.executable, str(ROOT / "09_use_llm.py"), "--checkpoint", str(checkpoint),
                             "--interactive", "--max-new-tokens", "15", "--no-show"], input="ROMEO:\nJULIET:\n\n",
                            capture_output=True, text=True, timeout=120, env={"CI": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("prompt> ") == 3


@pytest.mark.parametrize("script", ["09_use_llm.py", "10_deploy_llm.py"])
def test_missing_or_unsafe_checkpoint_is_one_line(tmp_path, script):
    assert_one_line_error(run_script(script, "--checkpoint", str(tmp_path / "none.pt"), out=tmp_path),
                          "no such checkpoint", "08_train_llm.py")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    junk = run_script(script, "--checkpoint", str(tmp_path / "junk.pt"), out=tmp_path)
    assert_one_line_error(junk, "not a usable checkpoint", "not a PyTorch checkpoint")
    assert "pickled" not in junk.stderr  # junk is not mistaken for a code-running pickle


# ----------------------------------------------------------------------------- the API


def test_health_names_the_model(client):
    health = client.get("/health").json()
    assert health["status"] == "ready" and health["busy"] is False
    assert health["parameters"] > 0 and health["vocab_size"] == len(VOCAB)
    assert health["vocab_checksum"] == CharTokenizer(VOCAB).checksum()


def test_generate_returns_the_text_and_a_seed_repeats_it(client):
    body = {"prompt": "ROMEO:", "max_new_tokens": 25, "temperature": 0.9, "top_k": 10, "seed": 3}
    first, second = client.post("/generate", json=body).json(), client.post("/generate", json=body).json()
    assert first["tokens"] == len(first["text"]) == 25 and first["text"] == second["text"]
    assert client.post("/generate", json=body | {"seed": 4}).json()["text"] != first["text"]


def events(response) -> list[tuple[str, dict]]:
    """Parse a Server-Sent Events body into (event name, data) pairs."""
    parsed = []
    for block in response.text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields.get("event", "message"), json.loads(fields["data"])))
    return parsed


def test_stream_sends_each_character_in_order_then_done(client):
    body = {"prompt": "JULIET:", "max_new_tokens": 30, "temperature": 0.7, "seed": 5}
    whole = client.post("/generate", json=body).json()["text"]
    response = client.post("/generate/stream", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    parsed = events(response)
    tokens = [data["token"] for name, data in parsed if name == "message"]
    assert len(tokens) == 30 and "".join(tokens) == whole
    assert parsed[-1][0] == "done" and parsed[-1][1]["tokens"] == 30


def test_unknown_prompt_characters_are_reported_not_fatal(client):
    answer = client.post("/generate", json={"prompt": "Ωmega", "max_new_tokens": 5}).json()
    assert answer["unknown_characters"] == "Ω" and answer["tokens"] == 5
    assert events(client.post("/generate/stream", json={"prompt": "Ω", "max_new_tokens": 3}))[0] == (
        "notice", {"unknown_characters": "Ω"})


@pytest.mark.parametrize("field, value", [
    ("prompt", "x" * 2001), ("prompt", 5), ("max_new_tokens", 0), ("max_new_tokens", 10**6),
    ("temperature", -0.1), ("temperature", 50), ("top_k", 0), ("top_p", 0), ("top_p", 1.5), ("seed", -1),
    ("colour", "blue"),
])
@pytest.mark.parametrize("path", ["/generate", "/generate/stream"])
def test_out_of_range_fields_get_a_422_naming_them(client, path, field, value):
    response = client.post(path, json={"prompt": "A", field: value})
    assert response.status_code == 422
    assert field in response.json()["error"]


def test_a_client_leaving_mid_stream_does_not_wedge_the_server(client):
    body = {"prompt": "A", "max_new_tokens": 2000, "seed": 0}
    start = time.perf_counter()
    assert client.post("/generate", json=body).json()["tokens"] == 2000
    full = time.perf_counter() - start  # what the abandoned stream would cost if it ran to the end
    with client.stream("POST", "/generate/stream", json=body) as response:
        for i, _ in enumerate(response.iter_lines()):
            if i > 6:
                break  # leave after a few characters
    start = time.perf_counter()
    answer = client.post("/generate", json={"prompt": "B", "max_new_tokens": 5})
    assert answer.status_code == 200 and answer.json()["tokens"] == 5
    assert time.perf_counter() - start < full / 4  # not queued behind 2000 characters nobody reads
    assert client.get("/health").json()["busy"] is False


def test_the_page_streams_from_the_api(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/generate/stream" in page.text and 'id="temperature"' in page.text


# ----------------------------------------------------------------------------- a real server


def test_selftest_runs_a_real_server_and_calls_every_endpoint(tmp_path, checkpoint):
    result = run_script("10_deploy_llm.py", "--checkpoint", str(checkpoint), "--selftest", out=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "GET /health -> ready" in result.stdout
    assert "the same text as /generate (same seed)" in result.stdout
    assert "-> 422: max_new_tokens" in result.stdout


def test_load_on_a_real_uvicorn_answers_every_client(checkpoint, lesson):
    """A bounded load test: concurrent clients against uvicorn on 127.0.0.1, each request answered once."""
    load = lesson("benchmarks/load_test_server")
    report = load.load_test(checkpoint, clients=6, requests_per_client=3, max_new_tokens=20, timeout=120)
    assert report["answered"] == report["sent"] == 18 and report["failed"] == 0
    assert report["health_during_load"] is True
