"""Lesson 10 - serve the language model over HTTP: an API, a token stream, and a page in the browser.

A trained model becomes useful when other programs can call it. This lesson
wraps lesson 08's model in a small web service (FastAPI, run by the uvicorn
server) with four endpoints:

    GET  /health            is it up? which model? how many requests are waiting?
    POST /generate          {"prompt": "ROMEO:", "max_new_tokens": 200, ...} -> the whole text as JSON
    POST /generate/stream   the same request; the text arrives token by token as
                            Server-Sent Events ("data: {...}" lines) while it is produced
                            (whole characters only: a BPE token that ends mid-character
                            waits for the next, see stream_text in 09_use_llm.py)
    GET  /                  a page where a person types a prompt and watches the text appear

A server meets clients it did not write, so it must keep serving whatever they
send. What makes this a real server rather than a demo:

* **Strict, bounded input.** Each field has a type and bounds (pydantic, in
  strict mode): "max_new_tokens": 10**9, true or "5", a temperature of NaN, a
  prompt that is not valid Unicode - each gets a 422 naming the field. The
  answer never echoes what was sent (an echo of NaN or of 3 MB is itself a
  crash or a flood), and a body larger than any valid request is refused
  with 413 before it is read.
* **The model loads once**, at start-up, safely (weights_only); a missing,
  unsafe or broken checkpoint stops the server before it listens, with one line.
* **Generation never blocks the event loop.** The server answers every client from one event loop;
  a forward pass run there would freeze /health and every other client until it finished. So
  generation runs in a worker thread, and the loop only passes its text on.
* **One generation at a time, and a bounded waiting line.** The worker pool
  has one thread, so two generations never fight over the CPU cores. At most
  --max-waiting requests wait behind it; one more gets 503 with a Retry-After
  header at once, instead of waiting minutes without knowing why.
* **A client that leaves frees the worker.** Its generation gets a stop flag
  and ends at the next token, for the stream and the JSON endpoint alike.
  An error inside a generation reaches its client as a message (an 'error'
  event, or a 422), never as a silent end.

Run it:  python 10_deploy_llm.py                      then open http://127.0.0.1:8000
         curl -s localhost:8000/generate -H 'content-type: application/json' -d '{"prompt": "ROMEO:"}'
         python 10_deploy_llm.py --selftest           (start, call every endpoint once, stop)
"""

from __future__ import annotations

import asyncio
import errno
import html
import ipaddress
import json
import socket
import threading
import time
import urllib.request
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException

from common import ROOT, UserError
from common.cli import lesson_parser, non_negative_int, port_number, run, thread_count
from common.checkpoints import DEFAULT_GPT_CHECKPOINT
from common.devices import use_cpu_cores
from common.lessons import lesson
from common.text import checksum

_09 = lesson("09_use_llm")  # generation with the cache and the knobs, and the checkpoint it reads
GPT, Tokenizer, generate, load_gpt, stream_text = _09.GPT, _09.Tokenizer, _09.generate, _09.load_gpt, _09.stream_text

PAGE = ROOT / "web" / "index.html"
MAX_PROMPT_CHARS = 2000
MAX_NEW_TOKENS = 2000
# The largest valid request: every prompt character written as a JSON escape pair (12 bytes), plus the rest.
MAX_BODY_BYTES = 12 * MAX_PROMPT_CHARS + 1000
RETRY_AFTER_SECONDS = 5  # a hint for a refused client; a generation of a few hundred characters takes about that


class GenerateRequest(BaseModel):
    # extra="forbid": a misspelt field is an error, not silently ignored; strict: 5.0, "5" and true are no integers
    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field("", max_length=MAX_PROMPT_CHARS, description="the text to continue")
    max_new_tokens: int = Field(200, ge=1, le=MAX_NEW_TOKENS,
                                description="tokens to write (characters, for a character model)")
    temperature: float = Field(0.8, ge=0.0, le=5.0, allow_inf_nan=False, description="0 is greedy")
    top_k: int | None = Field(None, ge=1, le=1000, description="draw only among the k likeliest")
    top_p: float | None = Field(None, gt=0.0, le=1.0, allow_inf_nan=False,
                                description="draw only from the smallest set holding p")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="the same seed gives the same text")

    @field_validator("prompt")
    @classmethod
    def whole_characters(cls, prompt: str) -> str:
        try:  # JSON can spell half of a UTF-16 pair ("\ud800"): no character, and unprintable in any answer
            prompt.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode (it holds half of a surrogate pair)") from None
        return prompt


class GenerateResponse(BaseModel):
    prompt: str
    text: str
    tokens: int
    seconds: float
    unknown_characters: str


class ErrorResponse(BaseModel):
    error: str


ERRORS = {code: {"model": ErrorResponse, "description": why} for code, why in [
    (400, "the body is not JSON text"), (411, "no Content-Length"), (413, "request body too large"),
    (422, "a field is missing, mistyped or out of range"),
    (503, "the waiting line is full; try again after Retry-After seconds")]}


class Generation:
    """One request's generation, run on the worker thread; ``stop`` ends it at the next token."""

    def __init__(self, model: GPT, tokenizer: Tokenizer, request: GenerateRequest):
        self.model, self.tokenizer, self.request = model, tokenizer, request
        self.stop = threading.Event()
        self.unknown = tokenizer.unknown(request.prompt)
        self.count = 0  # tokens drawn so far

    def ids(self) -> Iterator[int]:
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
            self.count += 1
            yield token

    def pieces(self) -> Iterator[str]:
        """The text, piece by piece as the tokens arrive, in whole characters."""
        return stream_text(self.tokenizer, self.ids())

    def text(self) -> str:
        return "".join(self.pieces())


class WaitingLine:
    """One generation runs, at most ``max_waiting`` wait behind it, and the next request is refused at once."""

    def __init__(self, max_waiting: int):
        self.max_waiting, self.admitted = max_waiting, 0

    def enter(self) -> Callable[[], None]:
        """Take a place or raise 503; returns the call that gives the place back (safe to call twice)."""
        if self.admitted > self.max_waiting:
            raise HTTPException(503, f"busy: {self.max_waiting} requests are already waiting; "
                                     f"try again in {RETRY_AFTER_SECONDS} s",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        self.admitted += 1
        left = threading.Event()

        def leave() -> None:
            if not left.is_set():
                left.set()
                self.admitted -= 1

        return leave

    @property
    def waiting(self) -> int:
        return max(0, self.admitted - 1)


def create_app(model: GPT, tokenizer: Tokenizer, info: dict, max_waiting: int = 8) -> FastAPI:
    """The web service around one loaded model."""
    app = FastAPI(title="Lesson 10: a small GPT", version="1")
    app.add_middleware(LimitBodySize, limit=MAX_BODY_BYTES)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")  # one generation at a time
    line = WaitingLine(max_waiting)
    health = {"status": "ready", "parameters": model.num_parameters(), "tokenizer": tokenizer.kind,
              "vocab_size": len(tokenizer), "vocab_checksum": checksum(tokenizer), "context": model.config.block_size,
              **info}
    # The page names the text the checkpoint learned, not always Shakespeare, and starts from that text's first line.
    page = PAGE.read_text(encoding="utf-8").replace("__TEXT__", html.escape(info.get("text") or "its text"))
    page = page.replace("__PROMPT__", html.escape(info.get("prompt") or ""))

    @app.exception_handler(RequestValidationError)
    async def explain_422(request: Request, error: RequestValidationError) -> JSONResponse:
        # Field names and messages only: the offending value is never echoed back (it may be NaN, huge or invalid).
        problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                    for e in error.errors()]
        return error_response(422, "; ".join(problems)[:500])

    @app.exception_handler(HTTPException)
    async def explain_http_error(request: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), error.headers)

    @app.get("/health")
    async def get_health() -> dict:
        return {**health, "busy": line.admitted > 0, "waiting": line.waiting, "max_waiting": line.max_waiting}

    @app.get("/", response_class=HTMLResponse)
    async def get_page() -> str:
        return page

    @app.post("/generate", responses=ERRORS)
    async def post_generate(request: GenerateRequest, connection: Request) -> GenerateResponse:
        leave = line.enter()
        generation = Generation(model, tokenizer, request)
        start = time.perf_counter()
        try:
            done = asyncio.get_running_loop().run_in_executor(worker, generation.text)
            while not done.done():  # a client that leaves stops its generation, as the stream's does
                await asyncio.wait({done}, timeout=0.1)
                if not done.done() and await connection.is_disconnected():
                    generation.stop.set()
            text = done.result()
        except (RuntimeError, ValueError) as error:
            raise HTTPException(422, f"could not generate with these settings: {error}"[:500]) from None
        finally:
            generation.stop.set()  # if this request was cancelled, its queued or running work ends early
            leave()
        return GenerateResponse(prompt=request.prompt, text=text, tokens=generation.count,
                                seconds=round(time.perf_counter() - start, 4), unknown_characters=generation.unknown)

    @app.post("/generate/stream", response_class=StreamingResponse,
              responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}, **ERRORS})
    async def post_stream(request: GenerateRequest) -> StreamingResponse:
        leave = line.enter()
        generation = Generation(model, tokenizer, request)
        # A client that leaves before the stream starts never runs stream_events' finally: give its place back
        # when the generation is dropped.
        weakref.finalize(generation, leave)
        return ClosingStream(stream_events(generation, leave), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})

    async def stream_events(generation: Generation, leave: Callable[[], None]):
        """Server-Sent Events: one 'data:' line per piece of text, then 'event: done' (or 'event: error')."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | Exception | None] = asyncio.Queue()

        def produce() -> None:  # runs on the worker thread; hands each piece of text to the event loop
            try:
                for text in generation.pieces():
                    loop.call_soon_threadsafe(queue.put_nowait, text)
            except (RuntimeError, ValueError) as error:  # to the client, not lost with the worker's future
                loop.call_soon_threadsafe(queue.put_nowait, error)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        start = time.perf_counter()
        try:
            worker.submit(produce)
            if generation.unknown:
                yield f"event: notice\ndata: {json.dumps({'unknown_characters': generation.unknown})}\n\n"
            while (item := await queue.get()) is not None:
                if isinstance(item, Exception):
                    message = f"could not generate with these settings: {item}"[:500]
                    yield f"event: error\ndata: {json.dumps({'error': message})}\n\n"
                    return
                yield f"data: {json.dumps({'token': item})}\n\n"
            seconds = time.perf_counter() - start
            yield f"event: done\ndata: {json.dumps({'tokens': generation.count, 'seconds': round(seconds, 4)})}\n\n"
        finally:  # also when the client disconnects: the worker stops at the next token
            generation.stop.set()
            leave()

    return app


class ClosingStream(StreamingResponse):
    """A StreamingResponse that closes its events at once when the client leaves.

    When a write to a client that has gone fails, Starlette stops reading the events but leaves closing
    them to the garbage collector, which may come seconds later; until then the generation goes on.
    Closing them here runs stream_events' finally now, and that stops the worker at its next token.
    """

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message}, headers=headers)


class LimitBodySize:
    """ASGI middleware: a POST must say its length (else 411), and no more than ``limit`` bytes (else 413).

    It answers before the body is read, so a client cannot make the server buffer megabytes to refuse them.
    """

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            problem = None
            if length is None:
                problem = error_response(411, "a request body needs a Content-Length header")
            elif not length.isdigit() or int(length) > self.limit:
                problem = error_response(413, f"request body over {self.limit:,} bytes; "
                                              f"a prompt holds at most {MAX_PROMPT_CHARS} characters")
            if problem is not None:
                await problem(scope, receive, send)
                return
        await self.app(scope, receive, send)


def load_app(checkpoint: Path, max_waiting: int = 8) -> FastAPI:
    if not checkpoint.exists():
        raise UserError(f"{checkpoint}: no such checkpoint; train one first with python 08_train_llm.py "
                        "(or --quick for a 2-minute model)")
    model, tokenizer, saved = load_gpt(checkpoint)
    info = {"checkpoint": checkpoint.name, "text": saved.get("text"), "val_bpc": saved.get("best_val_bpc"),
            "prompt": saved.get("prompt")}
    return create_app(model, tokenizer, info, max_waiting)


# ----------------------------------------------------------------------------- trying it out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free port of 127.0.0.1, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def selftest(app: FastAPI) -> None:
    """Start a real server on a free local port, call each endpoint once as a client would, stop."""
    with serving(app) as base:
        def call(path: str, body: dict | None = None):
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(base + path, data=data, headers={"content-type": "application/json"})
            return urllib.request.urlopen(request, timeout=60)

        print(f"Self-test against {base}:")
        health = json.load(call("/health"))
        print(f"   GET /health -> {health['status']}, {health['parameters']:,} parameters, "
              f"vocabulary checksum {health['vocab_checksum']}")
        prompt = health.get("prompt") or "ROMEO:"  # the first line of the model's own text (older checkpoints: none)
        body = {"prompt": prompt, "max_new_tokens": 60, "temperature": 0.8, "seed": 0}
        answer = json.load(call("/generate", body))
        print(f"   POST /generate -> {answer['tokens']} tokens in {answer['seconds']:.2f} s: "
              f"{(answer['prompt'] + answer['text'])!r}")
        events = [line[6:] for line in call("/generate/stream", body).read().decode().splitlines()
                  if line.startswith("data: ")]
        tokens = [json.loads(data)["token"] for data in events if '"token"' in data]
        same = "the same text as /generate (same seed)" if "".join(tokens) == answer["text"] else "a DIFFERENT text"
        print(f"   POST /generate/stream -> {len(tokens)} events of text; {same}")
        try:
            call("/generate", {"prompt": "x", "max_new_tokens": 10**9})
        except urllib.error.HTTPError as error:
            print(f"   POST /generate with max_new_tokens 10**9 -> {error.code}: {json.load(error)['error']}")
        page = call("/").read().decode()
        title = page.partition("<h1>")[2].partition("</h1>")[0]
        print(f"   GET / -> a page of {len(page):,} bytes, headed {html.unescape(title)!r}")


def is_loopback(host: str) -> bool:
    """True for addresses only this computer can reach (127.0.0.0/8, ::1, localhost)."""
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
    except (socket.gaierror, ValueError):
        return False


def check_can_listen(host: str, port: int) -> None:
    """Bind once ourselves, so a bad address or a taken port is one precise line, not uvicorn's log and exit."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            s.bind((host, port))
    except socket.gaierror:
        raise UserError(f"--host {host}: not an address of this computer (try 127.0.0.1)") from None
    except OSError as error:
        hint = f" (in use: try --port {port + 1})" if error.errno == errno.EADDRINUSE else ""
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}{hint}") from None


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_GPT_CHECKPOINT, help="a checkpoint of lesson 08")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this computer only)")
    parser.add_argument("--port", type=port_number, default=8000, help="port to listen on")
    parser.add_argument("--threads", type=thread_count, help="CPU threads PyTorch may use for one generation "
                        "(default: one per core this process may use, as 08, but at most 4)")
    parser.add_argument("--max-waiting", type=non_negative_int, default=8,
                        help="requests that may wait behind the running generation; more get 503 at once")
    parser.add_argument("--selftest", action="store_true", help="start on a free port, call every endpoint, stop")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or min(4, use_cpu_cores()))
    app = load_app(args.checkpoint, args.max_waiting)
    if args.selftest:
        selftest(app)
        return
    check_can_listen(args.host, args.port)
    print(f"Serving {args.checkpoint} on http://{args.host}:{args.port}  (Ctrl-C stops)")
    if not is_loopback(args.host):
        print(f"warning: --host {args.host} makes the model reachable from other machines, without authentication")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    except SystemExit:  # uvicorn exits this way when it cannot bind after all, having logged why
        raise UserError(f"could not listen on {args.host}:{args.port}") from None


if __name__ == "__main__":
    run(main)
