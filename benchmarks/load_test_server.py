"""Benchmark: a bounded load test of lesson 10's server - real uvicorn, real sockets, 127.0.0.1 only.

Starts ``10_deploy_llm.py`` in a subprocess on a free local port, sends
``clients x requests`` POST /generate requests from concurrent client threads
(half of them streaming), asks /health while the load runs, stops the server,
and prints how many were answered and the latency of each kind. Every request
has a timeout and the whole run a deadline, so it always ends by itself.

    python benchmarks/load_test_server.py [--clients 8] [--requests 4] [--max-new-tokens 100]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.gpt import DEFAULT_CHECKPOINT  # noqa: E402  (after the path is set)


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


def load_test(checkpoint: Path, clients: int, requests_per_client: int, max_new_tokens: int,
              timeout: float) -> dict:
    """Run the load; return counts and latencies (seconds)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(ROOT / "10_deploy_llm.py"), "--checkpoint", str(checkpoint),
                               "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
                              env={**os.environ, "CI": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        wait_until_up(base, server, deadline)

        def one_client(client: int) -> list[tuple[str, float | None]]:
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
                    results.append((kind, time.perf_counter() - start if complete else None))
                except OSError:
                    results.append((kind, None))
            return results

        with ThreadPoolExecutor(max_workers=clients) as pool:
            futures = [pool.submit(one_client, c) for c in range(clients)]
            time.sleep(0.2)  # the queue is full by now: does /health still answer at once?
            start = time.perf_counter()
            health = json.load(urllib.request.urlopen(base + "/health", timeout=5))
            health_seconds = time.perf_counter() - start
            results = [r for f in futures for r in f.result()]
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies = {kind: [s for k, s in results if k == kind and s is not None] for kind in ("json", "stream")}
    return {"sent": len(results), "answered": sum(s is not None for _, s in results),
            "failed": sum(s is None for _, s in results), "latencies": latencies,
            "health_during_load": health["status"] == "ready" and health["busy"],
            "health_seconds": health_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300, help="deadline for the whole run, seconds")
    args = parser.parse_args()
    if not args.checkpoint.exists():
        raise SystemExit(f"{args.checkpoint}: no such checkpoint; run 08_train_llm.py first")
    report = load_test(args.checkpoint, args.clients, args.requests, args.max_new_tokens, args.timeout)
    print(f"{args.clients} concurrent clients x {args.requests} requests, {args.max_new_tokens} characters each, "
          f"against uvicorn on 127.0.0.1")
    print(f"   answered {report['answered']}/{report['sent']}, failed {report['failed']}")
    for kind, values in report["latencies"].items():
        if values:
            print(f"   {kind:>6}: {len(values)} requests, latency median {statistics.median(values):.2f} s, "
                  f"max {max(values):.2f} s (they queue: one generation at a time)")
    print(f"   GET /health during the load: {'answered' if report['health_during_load'] else 'NOT busy/ready'} "
          f"in {report['health_seconds'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
