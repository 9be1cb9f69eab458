"""Benchmark: citizen messages through the API channel's whole way — signed POST,
intake, persist, route, a bot reply, the outbox, the signed callback — beside a bare
Starlette endpoint doing one raw INSERT per message, measured in the same run, on
SQLite and on PostgreSQL.

    .venv/bin/python bench/api_channel.py [--messages 2000] [--concurrency 16]

Prints, per database: messages/s, p50/p99 of the POST acknowledgement, p50/p99 of the
full round trip (POST sent -> reply received at the callback), and the ratio of
canales' throughput to the baseline's. Servers run as separate uvicorn processes
(one worker each); the load generator is this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
from canales.core.signing import sign  # noqa: E402

SECRET = "bench-secret-" + secrets.token_hex(8)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@asynccontextmanager
async def server(args: list[str], env: dict[str, str], port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env={**os.environ, **env}, cwd=HERE,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    await client.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Callbacks:
    """The integration's callback endpoint: records when each reply arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.deliveries: set[str] = set()
        self.duplicates = 0
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = json.loads(await request.body())
        delivery = body["delivery_id"]
        if delivery in self.deliveries:
            self.duplicates += 1
        self.deliveries.add(delivery)
        thread = body["conversation"]["thread"]
        self.arrived.setdefault(thread, time.perf_counter())
        return JSONResponse({"ok": True})


async def load(url: str, messages: int, concurrency: int, signed: bool) -> tuple[float, list[float], dict[str, float]]:
    """Post ``messages`` messages from ``concurrency`` clients; each message is its
    own conversation (thread) so replies can be matched."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    counter = iter(range(messages))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            thread = f"t{i}"
            body = json.dumps({"id": f"m{i}", "sender": {"id": f"u{i}"}, "thread": thread, "text": f"consulta número {i}"}).encode()
            headers = {"content-type": "application/json"}
            if signed:
                ts = str(int(time.time()))
                headers.update({"x-canales-timestamp": ts, "x-canales-signature": sign(SECRET, ts, body)})
            start = time.perf_counter()
            sent[thread] = start
            response = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code}: {response.text}")

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, sent


async def postgres_database() -> str | None:
    base = os.environ.get("CANALES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import asyncpg

        conn = await asyncpg.connect(base.replace("postgresql://", "postgres://", 1), timeout=3)
    except Exception:  # noqa: BLE001 - no PostgreSQL: that part is skipped
        return None
    name = f"canales_bench_{secrets.token_hex(3)}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return base.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres(url: str) -> None:
    import asyncpg

    base = os.environ.get("CANALES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    conn = await asyncpg.connect(base.replace("postgresql://", "postgres://", 1))
    await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await conn.close()


async def run_one(label: str, canales_url: str, bare_url: str, messages: int, concurrency: int, workdir: Path) -> dict[str, Any]:
    from canales.core import migrate

    await migrate.upgrade(canales_url)
    callbacks = Callbacks()
    cb_port, app_port, bare_port = free_port(), free_port(), free_port()
    config = uvicorn.Config(callbacks.app, host="127.0.0.1", port=cb_port, log_level="warning", access_log=False)
    cb_server = uvicorn.Server(config)
    cb_task = asyncio.create_task(cb_server.serve())
    site = workdir / f"{label}.toml"
    site.write_text(
        f'id = "bench"\nname = "Bench"\n[hours]\nalways = true\n[holidays]\ncategories = []\n'
        f'[plugins.api]\nsecret = {{ env = "BENCH_API_SECRET" }}\ncallback_url = "http://127.0.0.1:{cb_port}/hook"\n'
        f'[plugins.echo]\n'
    )
    env = {
        "CANALES_SITES": str(site), "DATABASE_URL": canales_url, "BENCH_API_SECRET": SECRET,
        "CANALES_PLUGIN_MODULES": "echo=echo_handler", "PYTHONPATH": str(HERE),
    }
    result: dict[str, Any] = {"database": label}
    async with server(["--factory", "canales.core.app:app_from_env"], env, app_port):
        await load(f"http://127.0.0.1:{app_port}/s/bench/api/messages", 50, 4, True)  # warm up
        elapsed, acks, sent = await load(f"http://127.0.0.1:{app_port}/s/bench/api/messages", messages, concurrency, True)
        deadline = time.perf_counter() + 120
        while len(callbacks.arrived) < messages + 50 and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        done = time.perf_counter()
        round_trips = [callbacks.arrived[t] - sent[t] for t in sent if t in callbacks.arrived]
        result.update(
            messages=messages,
            post_per_s=messages / elapsed,
            full_per_s=messages / (max(callbacks.arrived[t] for t in sent if t in callbacks.arrived) - min(sent.values())),
            ack_p50_ms=percentile(acks, 50) * 1000,
            ack_p99_ms=percentile(acks, 99) * 1000,
            trip_p50_ms=percentile(round_trips, 50) * 1000,
            trip_p99_ms=percentile(round_trips, 99) * 1000,
            replies=len(round_trips),
            lost=messages - len(round_trips),
            duplicates=callbacks.duplicates,
            drain_s=done - min(sent.values()),
        )
    cb_server.should_exit = True
    await cb_task
    async with server(["--factory", "baseline_insert:app"], {"DATABASE_URL": bare_url, "PYTHONPATH": str(HERE)}, bare_port):
        await load(f"http://127.0.0.1:{bare_port}/s/bench/api/messages", 50, 4, False)
        elapsed, acks, _ = await load(f"http://127.0.0.1:{bare_port}/s/bench/api/messages", messages, concurrency, False)
        result.update(bare_per_s=messages / elapsed, bare_p50_ms=percentile(acks, 50) * 1000, bare_p99_ms=percentile(acks, 99) * 1000)
    result["ratio_full"] = result["full_per_s"] / result["bare_per_s"]
    result["ratio_post"] = result["post_per_s"] / result["bare_per_s"]
    return result


def report(results: list[dict[str, Any]]) -> None:
    print()
    print(f"{'database':<11}{'canales msg/s':>14}{'ack p50/p99 ms':>18}{'round trip p50/p99 ms':>24}{'bare INSERT msg/s':>19}{'bare p50/p99 ms':>17}{'ratio':>8}{'lost':>6}{'dup':>5}")
    for r in results:
        print(
            f"{r['database']:<11}{r['full_per_s']:>14.0f}{r['ack_p50_ms']:>9.1f}/{r['ack_p99_ms']:<8.1f}"
            f"{r['trip_p50_ms']:>14.1f}/{r['trip_p99_ms']:<9.1f}{r['bare_per_s']:>19.0f}"
            f"{r['bare_p50_ms']:>9.1f}/{r['bare_p99_ms']:<7.1f}{r['ratio_full']:>8.2f}{r['lost']:>6}{r['duplicates']:>5}"
        )
    print("\nratio = canales' full-path messages/s (reply delivered) / bare INSERT messages/s, same run, same machine.")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results.append(await run_one("sqlite", f"sqlite:///{workdir}/canales.db", f"sqlite:///{workdir}/bare.db", args.messages, args.concurrency, workdir))
        pg = await postgres_database()
        if pg is None:
            print("PostgreSQL not reachable: skipped")
        else:
            bare = await postgres_database()
            try:
                results.append(await run_one("postgresql", pg, bare or pg, args.messages, args.concurrency, workdir))
            finally:
                await drop_postgres(pg)
                if bare:
                    await drop_postgres(bare)
    report(results)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
