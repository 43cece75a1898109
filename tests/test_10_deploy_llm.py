"""Lesson 10: the web service, through FastAPI's test client and on a real uvicorn, against hostile clients too."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import schemathesis
import torch
from conftest import VOCAB, assert_one_line_error, load_lesson, run_in_process, run_script
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from common.text import checksum

_07 = load_lesson("07_simple_llm")
CharTokenizer = _07.CharTokenizer
GPT, GPTConfig, load_gpt = _07.GPT, _07.GPTConfig, load_lesson("09_use_llm").load_gpt



@pytest.fixture(scope="module")
def deploy(lesson):
    return lesson("10_deploy_llm")


@pytest.fixture()
def client(deploy, checkpoint):
    with TestClient(deploy.load_app(checkpoint)) as test_client:
        yield test_client


@pytest.mark.parametrize("script", ["09_use_llm.py", "10_deploy_llm.py"])
def test_missing_or_unsafe_checkpoint_is_one_line(tmp_path, script):
    assert_one_line_error(run_in_process(script, "--checkpoint", str(tmp_path / "none.pt")),
                          "no such checkpoint", "08_train_llm.py")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    junk = run_in_process(script, "--checkpoint", str(tmp_path / "junk.pt"))
    assert_one_line_error(junk, "not a usable checkpoint", "not a PyTorch checkpoint")
    assert "pickled" not in junk.stderr  # junk is not mistaken for a code-running pickle


# ----------------------------------------------------------------------------- the API


def test_health_names_the_model(client):
    health = client.get("/health").json()
    assert health["status"] == "ready" and health["busy"] is False
    assert health["parameters"] > 0 and health["vocab_size"] == len(VOCAB)
    assert health["vocab_checksum"] == checksum(CharTokenizer(VOCAB)) and health["tokenizer"] == "char"


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


@pytest.mark.slow
def test_a_bpe_model_streams_whole_characters_and_emoji_come_back_intact(deploy, bpe_checkpoint):
    _, tokenizer, _ = load_gpt(bpe_checkpoint)
    assert tokenizer.kind == "bpe" and len(tokenizer.encode("🙂")) > 1  # an emoji spans tokens: partial ones exist
    body = {"prompt": "to 🙂 be é", "max_new_tokens": 80, "temperature": 0.5, "seed": 0}
    with TestClient(deploy.load_app(bpe_checkpoint)) as bpe_client:
        assert bpe_client.get("/health").json()["tokenizer"] == "bpe"
        whole = bpe_client.post("/generate", json=body).json()
        parsed = events(bpe_client.post("/generate/stream", json=body))
    pieces = [data["token"] for name, data in parsed if name == "message"]
    assert whole["prompt"] == body["prompt"] and whole["unknown_characters"] == ""
    assert whole["tokens"] == parsed[-1][1]["tokens"] == 80 and "".join(pieces) == whole["text"]
    assert {"🙂", "🙃"} & set(pieces) and "\ufffd" not in whole["text"]  # each emoji arrived whole, in one piece


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


@pytest.mark.slow
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
    assert "headed 'Write like " in result.stdout  # the page's heading names the text the checkpoint learned


@pytest.mark.slow
def test_load_on_a_real_uvicorn_answers_every_client(checkpoint, lesson):
    """A bounded load test: concurrent clients against uvicorn on 127.0.0.1, each request answered once."""
    load = lesson("benchmarks/load_test_server")
    report = load.load_test(checkpoint, clients=6, requests_per_client=3, max_new_tokens=20, timeout=120, leavers=2)
    assert report["answered"] == report["sent"] == 18 and report["failed"] == report["refused"] == 0
    assert report["health_during_load"] is True and report["idle_after"] is True


@pytest.mark.slow
def test_load_beyond_the_waiting_line_is_refused_not_failed(checkpoint, lesson):
    load = lesson("benchmarks/load_test_server")
    report = load.load_test(checkpoint, clients=6, requests_per_client=2, max_new_tokens=300, timeout=120,
                            max_waiting=1)
    assert report["refused"] > 0 and report["failed"] == 0 and report["answered"] + report["refused"] == 12


# ----------------------------------------------------------------------------- hostile clients


@pytest.mark.parametrize("raw", [
    b'{"prompt": "A", "temperature": NaN}', b'{"prompt": "A", "temperature": Infinity}',
    b'{"prompt": "A", "top_p": NaN}', b'{"prompt": "A", "max_new_tokens": 1e400}',
    b'{"prompt": "\\ud800"}', b'{"prompt": "A", "max_new_tokens": true}', b'{"prompt": "A", "max_new_tokens": "5"}',
    b'{"prompt": "A", "max_new_tokens": 5.0}', b'{"prompt": "A", "top_k": 2.0}', b'{"prompt": "A", "seed": false}',
])
@pytest.mark.parametrize("path", ["/generate", "/generate/stream"])
def test_values_json_allows_but_no_request_should_send_get_a_422_without_an_echo(client, path, raw):
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    field = json.loads(raw.replace(b"NaN", b"0").replace(b"Infinity", b"0").replace(b"1e400", b"0")).keys() - {"prompt"}
    assert (field or {"prompt"}).pop() in response.json()["error"]
    assert set(response.json()) == {"error"} and len(response.text) < 300  # a message, never the input


def test_a_whole_number_is_fine_where_a_float_is_meant(client):
    assert client.post("/generate", json={"prompt": "A", "temperature": 1, "max_new_tokens": 3}).status_code == 200


@pytest.mark.parametrize("knob", [{"temperature": 1e-39}, {"temperature": 1e-300}, {"top_p": 1e-300},
                                  {"temperature": 5e-324, "top_p": 1e-39}])
def test_a_tiny_temperature_or_top_p_is_greedy_not_an_overflow(client, knob):
    body = {"prompt": "ROMEO:", "max_new_tokens": 20, "seed": 1}
    greedy = client.post("/generate", json=body | {"temperature": 0}).json()["text"]
    answer = client.post("/generate", json=body | knob)
    assert answer.status_code == 200 and answer.json()["text"] == greedy
    assert "".join(data["token"] for name, data in events(client.post("/generate/stream", json=body | knob))
                   if name == "message") == greedy


def test_the_page_names_the_text_the_model_learned(deploy):
    model = GPT(GPTConfig(len(VOCAB), block_size=16, n_layer=1, n_head=1, n_embd=8))
    info = {"text": "licence <1>.txt", "prompt": "MIT <License>"}
    with TestClient(deploy.create_app(model, CharTokenizer(VOCAB), info)) as app:
        page = app.get("/").text
    assert "Write like licence &lt;1&gt;.txt" in page and "Shakespeare" not in page
    assert '<textarea id="prompt" rows="3">MIT &lt;License&gt;</textarea>' in page  # the text's own first line
    with TestClient(deploy.create_app(model, CharTokenizer(VOCAB), {})) as app:  # an older checkpoint: no prompt
        assert '<textarea id="prompt" rows="3"></textarea>' in app.get("/").text


def test_an_error_inside_a_generation_reaches_the_client(deploy):
    """A model gone bad (NaN weights) cannot be sampled: both endpoints say so instead of a 500 or a silent end."""
    model = GPT(GPTConfig(len(VOCAB), block_size=16, n_layer=1, n_head=1, n_embd=8))
    with torch.no_grad():
        model.lm_head.bias.fill_(float("nan"))
    with TestClient(deploy.create_app(model, CharTokenizer(VOCAB), {})) as broken:
        answer = broken.post("/generate", json={"prompt": "A", "max_new_tokens": 5})
        assert answer.status_code == 422 and "could not generate" in answer.json()["error"]
        parsed = events(broken.post("/generate/stream", json={"prompt": "A", "max_new_tokens": 5}))
        assert parsed[-1][0] == "error" and "could not generate" in parsed[-1][1]["error"]
        assert broken.get("/health").json()["busy"] is False


def test_an_oversized_or_unsized_body_is_refused_before_it_is_read(client, deploy):
    huge = client.post("/generate", json={"prompt": "x" * 3_000_000})
    assert huge.status_code == 413 and len(huge.text) < 300 and "2000 characters" in huge.json()["error"]
    chunked = client.post("/generate", content=iter([b'{"prompt": ', b'"A"}']),
                          headers={"content-type": "application/json"})
    assert chunked.status_code == 411
    # The largest valid request still fits: 2000 characters, each sent as a JSON escape pair (an emoji).
    largest = json.dumps({"prompt": "\U0001F600" * 2000, "max_new_tokens": 1}).encode()
    assert len(largest) <= deploy.MAX_BODY_BYTES
    answer = client.post("/generate", content=largest, headers={"content-type": "application/json"})
    assert answer.status_code == 200 and answer.json()["unknown_characters"] == "\U0001F600"


def test_exposure_warning_is_for_addresses_beyond_this_computer(deploy):
    assert deploy.is_loopback("127.0.0.1") and deploy.is_loopback("localhost") and deploy.is_loopback("127.0.0.5")
    assert not deploy.is_loopback("0.0.0.0") and not deploy.is_loopback("::")


@pytest.mark.parametrize("flags, fragment", [
    (["--port", "70000"], "a port from 1 to 65535"), (["--threads", "100000"], "a thread count"),
    (["--max-waiting", "-1"], "an integer >= 0"), (["--seed", "-1"], "a seed from 0"),
    (["--host", "256.1.1.1"], "not an address of this computer"),
])
def test_bad_server_flags_are_one_line(tmp_path, checkpoint, flags, fragment):
    assert_one_line_error(run_in_process("10_deploy_llm.py", "--checkpoint", str(checkpoint), *flags),
                          fragment)


def post_raw(base: str, body: dict, timeout: float = 120):
    """POST /generate on a real server: (status, headers, body), for errors too."""
    request = urllib.request.Request(base + "/generate", json.dumps(body).encode(), {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.slow
def test_a_json_client_that_leaves_frees_the_worker(deploy, checkpoint, lesson):
    """On a real uvicorn: a /generate client that hangs up stops its generation within a fraction of its time."""
    load = lesson("benchmarks/load_test_server")
    with deploy.serving(deploy.load_app(checkpoint)) as base:
        long = {"prompt": "A", "max_new_tokens": 2000, "seed": 0}
        start = time.perf_counter()
        assert post_raw(base, long)[0] == 200
        full = time.perf_counter() - start
        load.leave_mid_request(base, long)  # sends the whole request, waits 0.2 s while it runs, hangs up
        start = time.perf_counter()
        status, _, answer = post_raw(base, {"prompt": "B", "max_new_tokens": 5})
        assert status == 200 and json.loads(answer)["tokens"] == 5
        assert time.perf_counter() - start < full / 4, (time.perf_counter() - start, full)


@pytest.mark.slow
def test_the_waiting_line_is_bounded_and_every_accepted_request_is_answered(deploy, checkpoint):
    with deploy.serving(deploy.load_app(checkpoint, max_waiting=2)) as base:
        slow = {"prompt": "A", "max_new_tokens": 1500, "seed": 0}
        with ThreadPoolExecutor(max_workers=3) as pool:
            accepted = [pool.submit(post_raw, base, slow)]
            deadline = time.monotonic() + 30
            while json.load(urllib.request.urlopen(base + "/health"))["busy"] is False:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            accepted += [pool.submit(post_raw, base, slow | {"max_new_tokens": 5}) for _ in range(2)]
            while json.load(urllib.request.urlopen(base + "/health"))["waiting"] < 2:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            start = time.perf_counter()
            status, headers, body = post_raw(base, slow)
            assert status == 503 and time.perf_counter() - start < 1.0  # at once, not after the queue
            assert int(headers["Retry-After"]) > 0 and "2 requests are already waiting" in json.loads(body)["error"]
            assert [f.result()[0] for f in accepted] == [200, 200, 200]
        health = json.load(urllib.request.urlopen(base + "/health"))
        assert health["busy"] is False and health["waiting"] == 0 and health["max_waiting"] == 2


@pytest.fixture(scope="module")
def api_schema(deploy, checkpoint):
    return schemathesis.openapi.from_asgi("/openapi.json", deploy.load_app(checkpoint))


@pytest.mark.slow
def test_fuzzed_from_its_own_schema_no_request_gets_a_5xx(api_schema):
    """Requests made from the app's OpenAPI schema, valid and invalid, in-process and bounded: no 5xx, every
    response as documented, every 4xx a short message. Strict integers are stricter than JSON Schema's "integer"
    (which admits 5.0), so a schema-valid request may get a 422, but only for that reason."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    cases = st.one_of([op.as_strategy(generation_mode=mode) for op in operations
                       for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)])
    seen: set[int] = set()

    @given(case=cases)
    @settings(max_examples=150, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def no_server_errors(case):
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        seen.add(response.status_code)
        assert response.status_code < 500
        if 400 <= response.status_code < 500 and response.headers.get("content-type") == ["application/json"]:
            assert 0 < len(response.json()["error"]) <= 500
        if case.meta.generation.mode is GenerationMode.POSITIVE and response.status_code == 422:
            assert "valid integer" in response.json()["error"], response.json()

    no_server_errors()
    assert {200, 422} <= seen
