"""Lesson 10 - serve the language model over HTTP: an API, a token stream, and a page in the browser.

A trained model becomes useful when other programs can call it. This lesson
wraps lesson 08's model in a small web service (FastAPI, run by the uvicorn
server) with four endpoints:

    GET  /health            is it up? which model (parameters, vocabulary checksum)?
    POST /generate          {"prompt": "ROMEO:", "max_new_tokens": 200, ...} -> the whole text as JSON
    POST /generate/stream   the same request; the characters arrive one by one as
                            Server-Sent Events ("data: {...}" lines) while they are produced
    GET  /                  a page where a person types a prompt and watches the text appear

What makes it a real server rather than a demo:

* **Validated input.** Each field of a request has bounds (pydantic), so
  "max_new_tokens": 10**9 or "temperature": -1 gets a 422 answer naming the
  field - never a crash, never a server busy for an hour.
* **The model loads once**, at start-up, safely (weights_only); a missing or
  unsafe checkpoint stops the server before it listens, with one line.
* **Generation never blocks the event loop.** The server answers every client
  from one event loop; a forward pass run there would freeze /health and
  every other client until it finished. So generation runs in a worker thread,
  and the loop only passes its characters on.
* **One generation at a time.** The worker pool has exactly one thread:
  requests queue in order, and two generations never fight over the CPU cores
  (PyTorch's thread count is set once, at start-up). A client that goes away
  mid-stream sets a stop flag, and its generation ends at the next character,
  so it cannot hold the worker.

Run it:  python 10_deploy_llm.py                      then open http://127.0.0.1:8000
         curl -s localhost:8000/generate -H 'content-type: application/json' -d '{"prompt": "ROMEO:"}'
         python 10_deploy_llm.py --selftest           (start, call every endpoint once, stop)
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from common import ROOT, UserError
from common.cli import lesson_parser, positive_int, run
from common.gpt import DEFAULT_CHECKPOINT, GPT, generate, load_gpt
from common.text import CharTokenizer

PAGE = ROOT / "web" / "index.html"
MAX_PROMPT_CHARS = 2000
MAX_NEW_TOKENS = 2000


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored

    prompt: str = Field("", max_length=MAX_PROMPT_CHARS, description="the text to continue")
    max_new_tokens: int = Field(200, ge=1, le=MAX_NEW_TOKENS, description="characters to write")
    temperature: float = Field(0.8, ge=0.0, le=5.0, description="0 is greedy")
    top_k: int | None = Field(None, ge=1, le=1000, description="draw only among the k likeliest")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="draw only from the smallest set holding p")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="the same seed gives the same text")


class Generation:
    """One request's generation, run on the worker thread; ``stop`` ends it at the next character."""

    def __init__(self, model: GPT, tokenizer: CharTokenizer, request: GenerateRequest):
        self.model, self.tokenizer, self.request = model, tokenizer, request
        self.stop = threading.Event()
        self.unknown = tokenizer.unknown(request.prompt)

    def tokens(self):
        r = self.request
        generator = torch.Generator()
        if r.seed is None:
            generator.seed()  # a fresh random seed: each request writes something new
        else:
            generator.manual_seed(r.seed)
        ids = self.tokenizer.encode(r.prompt or "\n")
        for token in generate(self.model, ids, r.max_new_tokens, r.temperature, r.top_k, r.top_p, generator):
            if self.stop.is_set():
                return
            yield self.tokenizer.decode([token])


def create_app(model: GPT, tokenizer: CharTokenizer, info: dict) -> FastAPI:
    """The web service around one loaded model."""
    app = FastAPI(title="Lesson 10: a character-level GPT", version="1")
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")  # one generation at a time
    state = {"waiting_or_running": 0}
    health = {"status": "ready", "parameters": model.num_parameters(), "vocab_size": len(tokenizer),
              "vocab_checksum": tokenizer.checksum(), "context": model.config.block_size, **info}
    page = PAGE.read_text(encoding="utf-8")

    @app.exception_handler(RequestValidationError)
    async def explain_422(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                    for e in error.errors()]
        return JSONResponse(status_code=422, content={"error": "; ".join(problems),
                                                      "detail": json.loads(json.dumps(error.errors(), default=str))})

    @app.get("/health")
    async def get_health() -> dict:
        return {**health, "busy": state["waiting_or_running"] > 0}

    @app.get("/", response_class=HTMLResponse)
    async def get_page() -> str:
        return page

    @app.post("/generate")
    async def post_generate(request: GenerateRequest) -> dict:
        generation = Generation(model, tokenizer, request)
        state["waiting_or_running"] += 1
        try:
            start = time.perf_counter()
            text = await asyncio.get_running_loop().run_in_executor(worker, lambda: "".join(generation.tokens()))
        finally:
            state["waiting_or_running"] -= 1
            generation.stop.set()  # if this request was cancelled, its queued or running work ends early
        seconds = time.perf_counter() - start
        return {"prompt": request.prompt, "text": text, "tokens": len(text), "seconds": round(seconds, 4),
                "unknown_characters": generation.unknown}

    @app.post("/generate/stream")
    async def post_stream(request: GenerateRequest) -> StreamingResponse:
        return StreamingResponse(stream_events(Generation(model, tokenizer, request)), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def stream_events(generation: Generation):
        """Server-Sent Events: one 'data:' line per character, then an 'event: done' with the totals."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def produce() -> None:  # runs on the worker thread; hands each character to the event loop
            try:
                for text in generation.tokens():
                    loop.call_soon_threadsafe(queue.put_nowait, text)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        state["waiting_or_running"] += 1
        start, count = time.perf_counter(), 0
        try:
            worker.submit(produce)
            if generation.unknown:
                yield f"event: notice\ndata: {json.dumps({'unknown_characters': generation.unknown})}\n\n"
            while (text := await queue.get()) is not None:
                count += 1
                yield f"data: {json.dumps({'token': text})}\n\n"
            seconds = time.perf_counter() - start
            yield f"event: done\ndata: {json.dumps({'tokens': count, 'seconds': round(seconds, 4)})}\n\n"
        finally:  # also when the client disconnects: the worker stops at the next character
            generation.stop.set()
            state["waiting_or_running"] -= 1

    return app


def load_app(checkpoint: Path) -> FastAPI:
    if not checkpoint.exists():
        raise UserError(f"{checkpoint}: no such checkpoint; train one first with python 08_train_llm.py "
                        "(or --quick for a 2-minute model)")
    model, tokenizer, saved = load_gpt(checkpoint)
    info = {"checkpoint": checkpoint.name, "text": saved.get("text"), "val_loss": saved.get("best_val_loss")}
    return create_app(model, tokenizer, info)


# ----------------------------------------------------------------------------- trying it out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def selftest(app: FastAPI) -> None:
    """Start a real server on a free local port, call each endpoint once as a client would, stop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        def call(path: str, body: dict | None = None):
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(base + path, data=data, headers={"content-type": "application/json"})
            return urllib.request.urlopen(request, timeout=60)

        print(f"Self-test against {base}:")
        health = json.load(call("/health"))
        print(f"   GET /health -> {health['status']}, {health['parameters']:,} parameters, "
              f"vocabulary checksum {health['vocab_checksum']}")
        body = {"prompt": "ROMEO:", "max_new_tokens": 60, "temperature": 0.8, "seed": 0}
        answer = json.load(call("/generate", body))
        print(f"   POST /generate -> {answer['tokens']} characters in {answer['seconds']:.2f} s: "
              f"{(answer['prompt'] + answer['text'])!r}")
        events = [line[6:] for line in call("/generate/stream", body).read().decode().splitlines()
                  if line.startswith("data: ")]
        tokens = [json.loads(data)["token"] for data in events if '"token"' in data]
        same = "the same text as /generate (same seed)" if "".join(tokens) == answer["text"] else "a DIFFERENT text"
        print(f"   POST /generate/stream -> {len(tokens)} events, one per character; {same}")
        try:
            call("/generate", {"prompt": "x", "max_new_tokens": 10**9})
        except urllib.error.HTTPError as error:
            print(f"   POST /generate with max_new_tokens 10**9 -> {error.code}: {json.load(error)['error']}")
        page = call("/").read().decode()
        print(f"   GET / -> a page of {len(page):,} bytes")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="a checkpoint of lesson 08")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this computer only)")
    parser.add_argument("--port", type=positive_int, default=8000, help="port to listen on")
    parser.add_argument("--threads", type=positive_int, default=min(4, os.cpu_count() or 1),
                        help="CPU threads PyTorch may use for one generation")
    parser.add_argument("--selftest", action="store_true", help="start on a free port, call every endpoint, stop")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    app = load_app(args.checkpoint)
    if args.selftest:
        selftest(app)
        return
    print(f"Serving {args.checkpoint} on http://{args.host}:{args.port}  (Ctrl-C stops)")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    except SystemExit:  # uvicorn exits this way when it cannot bind, after logging why
        raise UserError(f"could not listen on {args.host}:{args.port} (in use? try --port {args.port + 1})") from None


if __name__ == "__main__":
    run(main)
