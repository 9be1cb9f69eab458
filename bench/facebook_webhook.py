"""Benchmark: signed Facebook webhook POSTs acknowledged per second, p50/p99, for
batches of 1 and of 50 events, beside a bare Starlette endpoint that only verifies
the HMAC and answers 200 — both measured in the same run, each a real uvicorn process.

    .venv/bin/python bench/facebook_webhook.py [--seconds 10] [--connections 32]

The app stores every body before its 200 and handles the events after the response
(core intake: messages, conversations, routing); the acknowledgement figure is what
Meta sees (its limit is 5 s). "processed" is how long the app then needed to store
every event as a message. With two or more cores the server runs on core 0 and the load
generator (asyncio, keep-alive connections, closed loop) on core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-app-secret"
PAGE = "100000000000001"
PATH = "/s/bench/facebook/webhook"

# --- the bare baseline (served by uvicorn as "facebook_webhook:bare_app") ---------------

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402


async def _bare(request: Request) -> Response:
    body = await request.body()
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get("x-hub-signature-256", ""), expected):
        return PlainTextResponse("bad signature", status_code=403)
    return PlainTextResponse("EVENT_RECEIVED")


bare_app = Starlette(routes=[Route(PATH, _bare, methods=["POST"])])

# --- load generation ---------------------------------------------------------------------

_ids = itertools.count(1)


def body_for(batch: int, now_ms: int) -> tuple[bytes, bytes]:
    n = next(_ids)
    events = [
        {"sender": {"id": f"psid-{n}-{i % 5}"}, "recipient": {"id": PAGE}, "timestamp": now_ms + i,
         "message": {"mid": f"m_{n}_{i}", "text": f"Consulta número {i} sobre un trámite"}}
        for i in range(batch)
    ]
    body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": now_ms, "messaging": events}]}, ensure_ascii=True, separators=(",", ":")).encode()
    signature = ("sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()).encode()
    return body, signature


async def _client(port: int, batch: int, deadline: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            body, signature = body_for(batch, int(time.time() * 1000))
            request = (
                f"POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                f"X-Hub-Signature-256: {signature.decode()}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def load(port: int, batch: int, seconds: float, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    await asyncio.gather(*(_client(port, batch, deadline, latencies, errors) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "events_per_s": len(latencies) * batch / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": len(errors),
    }


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pin(core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


def start_server(target: str, port: int, env: dict[str, str], app_dir: Path, factory: bool) -> subprocess.Popen[bytes]:
    command = [*pin(0), sys.executable, "-m", "uvicorn", target, "--port", str(port), "--app-dir", str(app_dir),
               "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def count_messages(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM message WHERE direction = 'in'").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batches", default="1,50")
    parser.add_argument("--drain-limit", type=float, default=60.0, help="seconds to wait for the stored events after the load")
    args = parser.parse_args()
    if pin(1):
        os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        site = folder / "bench.toml"
        site.write_text(textwrap.dedent(f"""
            id = "bench"
            name = "Benchmark"
            [hours]
            always = true
            [holidays]
            categories = []
            [plugins.facebook]
            page_id = "{PAGE}"
            app_secret = {{ env = "BENCH_FB_APP_SECRET" }}
            page_token = {{ env = "BENCH_FB_PAGE_TOKEN" }}
            verify_token = {{ env = "BENCH_FB_VERIFY_TOKEN" }}
            graph_url = "http://127.0.0.1:9"
            acknowledge = false
        """), "utf-8")
        results = []
        for batch in [int(b) for b in args.batches.split(",")]:
            db = folder / f"bench-{batch}.db"
            env = {**os.environ, "BENCH_FB_APP_SECRET": SECRET, "BENCH_FB_PAGE_TOKEN": "t", "BENCH_FB_VERIFY_TOKEN": "v",
                   "CANALES_SITES": str(site), "DATABASE_URL": f"sqlite:///{db}"}
            subprocess.run([sys.executable, "-m", "canales.core.cli", "db", "upgrade", "--database-url", f"sqlite:///{db}"],
                           env=env, check=True, capture_output=True)
            for name, target, factory in (("bare HMAC endpoint", "facebook_webhook:bare_app", False),
                                          ("canales webhook", "canales.core.app:app_from_env", True)):
                port = free_port()
                process = start_server(target, port, env, Path(__file__).parent, factory)
                try:
                    asyncio.run(load(port, batch, 1.0, 4))  # warm-up
                    figures = asyncio.run(load(port, batch, args.seconds, args.connections))
                    if factory:
                        # Every event acknowledged (warm-up included) must end up stored.
                        started = time.perf_counter()
                        stored = count_messages(db)
                        while stored < figures["requests"] * batch and time.perf_counter() - started < args.drain_limit:
                            time.sleep(0.2)
                            stored = count_messages(db)
                        figures["drained_s"] = time.perf_counter() - started
                        figures["stored"] = stored
                finally:
                    stop(process)
                results.append((batch, name, figures))
                print(f"  measured {name}, batch {batch}: {figures['rps']:.0f} req/s", flush=True)
    print(f"\nsigned webhook POSTs, {args.connections} connections, {args.seconds:.0f} s each, "
          f"{'server on core 0, load on core 1' if pin(1) else 'unpinned'}\n")
    print(f"{'batch':>5}  {'endpoint':<20} {'req/s':>8} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    by_batch: dict[int, dict[str, dict[str, float]]] = {}
    for batch, name, f in results:
        by_batch.setdefault(batch, {})[name] = f
        print(f"{batch:>5}  {name:<20} {f['rps']:>8.0f} {f['events_per_s']:>9.0f} {f['p50_ms']:>8.1f} {f['p99_ms']:>8.1f} {f['errors']:>6}")
    print()
    for batch, pair in by_batch.items():
        app, bare = pair["canales webhook"], pair["bare HMAC endpoint"]
        print(f"batch {batch}: canales/bare throughput {app['rps'] / bare['rps']:.2f}, p99 ratio {app['p99_ms'] / bare['p99_ms']:.1f}x; "
              f"after the load, {int(app['stored'])} of {int(app['requests']) * batch} acknowledged events were stored within {app['drained_s']:.1f} s more "
              f"(ack p99 {app['p99_ms']:.0f} ms vs Meta's 5000 ms limit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
