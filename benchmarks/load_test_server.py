"""Benchmark: a bounded load test of lesson 10's server - real uvicorn, real sockets, 127.0.0.1 only.

Starts ``10_deploy_llm.py`` in a subprocess on a free local port with a waiting
line of --max-waiting requests, then at once:

* ``clients x requests`` POST /generate requests from concurrent client threads
  (half of them streaming); a request refused with 503 (the line is full) is
  counted as refused, not retried;
* ``leavers`` clients that send a long request and hang up after 0.2 s: the
  server must stop their generations, not let them hold the worker;
* /health, asked every 50 ms while the load runs.

It prints how many requests were sent, answered, refused with 503 and failed
(anything else: a 5xx, a broken stream, a timeout - this must be 0), the
latency of each kind, and /health's latency under load. Every request has a
timeout and the whole run a deadline, so it always ends by itself.

    python benchmarks/load_test_server.py [--clients 12] [--requests 3] [--leavers 4] [--max-waiting 8]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.checkpoints import DEFAULT_GPT_CHECKPOINT  # noqa: E402  (after the path is set)



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict, timeout: float) -> bytes:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def wait_until_up(base: str, server: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.stderr.read().decode()[-500:]}")
        try:
            urllib.request.urlopen(base + "/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("the server did not start in time")


def leave_mid_request(base: str, body: dict) -> None:
    """Send a whole request, then hang up before the answer."""
    host, port = base.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(b"POST /generate HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
        time.sleep(0.2)


def load_test(checkpoint: Path, clients: int, requests_per_client: int, max_new_tokens: int,
              timeout: float, leavers: int = 0, max_waiting: int = 8) -> dict:
    """Run the load; return counts and latencies (seconds)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(ROOT / "10_deploy_llm.py"), "--checkpoint", str(checkpoint),
                               "--host", "127.0.0.1", "--port", str(port), "--threads", "1",
                               "--max-waiting", str(max_waiting)],
                              env={**os.environ, "CI": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        wait_until_up(base, server, deadline)

        def one_client(client: int) -> list[tuple[str, str, float]]:
            results = []
            for i in range(requests_per_client):
                kind = "stream" if (client + i) % 2 else "json"
                body = {"prompt": f"CLIENT {client}:", "max_new_tokens": max_new_tokens, "seed": client * 100 + i}
                start = time.perf_counter()
                try:
                    remaining = max(1.0, deadline - time.monotonic())
                    raw = post(base + ("/generate/stream" if kind == "stream" else "/generate"), body, remaining)
                    complete = (b"event: done" in raw if kind == "stream"
                                else json.loads(raw)["tokens"] == max_new_tokens)
                    outcome = "answered" if complete else "failed"
                except urllib.error.HTTPError as error:
                    outcome = "refused" if error.code == 503 and error.headers.get("Retry-After") else "failed"
                except OSError:
                    outcome = "failed"
                results.append((kind, outcome, time.perf_counter() - start))
            return results

        health_seconds: list[float] = []
        busy_seen = threading.Event()
        load_done = threading.Event()

        def watch_health() -> None:
            while not load_done.is_set():
                start = time.perf_counter()
                health = json.load(urllib.request.urlopen(base + "/health", timeout=5))
                health_seconds.append(time.perf_counter() - start)
                if health["status"] == "ready" and health["busy"]:
                    busy_seen.set()
                time.sleep(0.05)

        with ThreadPoolExecutor(max_workers=clients + leavers + 1) as pool:
            watcher = pool.submit(watch_health)
            left = [pool.submit(leave_mid_request, base, {"prompt": "GONE:", "max_new_tokens": 2000})
                    for _ in range(leavers)]
            futures = [pool.submit(one_client, c) for c in range(clients)]
            results = [r for f in futures for r in f.result()]
            for f in left:
                f.result()
            load_done.set()
            watcher.result()
        # Once the load is over, nothing may still hold the worker: not even the leavers' 2000-character requests.
        after = json.load(urllib.request.urlopen(base + "/health", timeout=5))
    finally:
        server.terminate()
        server.wait(timeout=10)
    count = {outcome: sum(o == outcome for _, o, _ in results) for outcome in ("answered", "refused", "failed")}
    latencies = {kind: [s for k, o, s in results if k == kind and o == "answered"] for kind in ("json", "stream")}
    return {"sent": len(results), **count, "leavers": leavers, "latencies": latencies,
            "health_during_load": busy_seen.is_set(), "health_seconds": health_seconds,
            "idle_after": not after["busy"] and after["waiting"] == 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_GPT_CHECKPOINT)
    parser.add_argument("--clients", type=int, default=12, help="concurrent clients: more than 1 + --max-waiting")
    parser.add_argument("--requests", type=int, default=3, help="requests per client")
    parser.add_argument("--leavers", type=int, default=4, help="clients that hang up mid-request")
    parser.add_argument("--max-waiting", type=int, default=8, help="the server's waiting line")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300, help="deadline for the whole run, seconds")
    args = parser.parse_args()
    if not args.checkpoint.exists():
        raise SystemExit(f"{args.checkpoint}: no such checkpoint; run 08_train_llm.py first")
    report = load_test(args.checkpoint, args.clients, args.requests, args.max_new_tokens, args.timeout,
                       args.leavers, args.max_waiting)
    print(f"{args.clients} concurrent clients x {args.requests} requests, {args.max_new_tokens} characters each, "
          f"plus {args.leavers} clients that hang up mid-request, against uvicorn on 127.0.0.1 "
          f"(waiting line {args.max_waiting})")
    print(f"   sent {report['sent']}, answered {report['answered']}, refused with 503 {report['refused']}, "
          f"failed {report['failed']}")
    for kind, values in report["latencies"].items():
        if values:
            print(f"   {kind:>6}: {len(values)} answered, latency median {statistics.median(values):.2f} s, "
                  f"max {max(values):.2f} s (they queue: one generation at a time)")
    health = report["health_seconds"]
    print(f"   GET /health during the load: {len(health)} calls, median {statistics.median(health) * 1000:.1f} ms, "
          f"max {max(health) * 1000:.1f} ms; busy seen: {report['health_during_load']}")
    print(f"   after the load: {'idle' if report['idle_after'] else 'STILL BUSY'} "
          f"(the {args.leavers} abandoned 2000-character generations were stopped)")


if __name__ == "__main__":
    main()
