"""Benchmark: the live chat's citizen socket through the whole path — a citizen's
message over the WebSocket, intake, persist, route, a reply stored through core by a
responder plugin (``echo_handler``), the bus, back over the socket — beside a bare
Starlette WebSocket relay measured in the same run.

    .venv/bin/python bench/chat_ws.py [--citizens 50] [--messages 20] [--idle 1000]
                                      [--database sqlite|postgresql|both]

Prints, per database: messages/s (citizen message -> reply received), p50/p99 of
that round trip, the same for the bare relay, their ratio, and memory per idle
connection (the server's RSS growth / connections) for both. Each citizen is
closed-loop (sends, waits for the reply, sends again) and connects from its own
loopback address (127.0.x.y), as citizens come from their own networks: the chat's
per-address limits apply as in production. Servers run as separate uvicorn
processes (one worker each, as ``canales serve`` configures them); this process is
the load generator.
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import websockets

HERE = Path(__file__).resolve().parent
ORIGIN = "http://bench.local"
WS_MAX_SIZE = 64 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def address(n: int) -> str:
    """The n-th citizen's own loopback address (127.0.1.1, 127.0.1.2, …)."""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@asynccontextmanager
async def server(
    args: list[str], env: dict[str, str], port: int, ready_path: str, deflate: bool
) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "--ws-max-size", str(WS_MAX_SIZE),
         "--ws-per-message-deflate", str(deflate).lower()],
        stderr=subprocess.DEVNULL if not os.environ.get("BENCH_VERBOSE") else None,
        env={**os.environ, **env}, cwd=HERE,
    )
    try:
        for _ in range(300):
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}{ready_path}", additional_headers={"Origin": ORIGIN}, proxy=None, open_timeout=1):
                    break
            except (OSError, websockets.WebSocketException, TimeoutError):
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"server on port {port} did not start")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class ChatCitizen:
    """A citizen on the canales socket: starts a chat, then sends and waits for
    each reply."""

    def __init__(self, url: str, n: int) -> None:
        self.url = url
        self.n = n
        self.ws: Any = None

    async def open(self, first_message: bool = False) -> None:
        self.ws = await websockets.connect(
            self.url, additional_headers={"Origin": ORIGIN}, proxy=None, local_addr=(address(self.n), 0), max_size=None
        )
        await self.until("welcome")
        await self.ws.send(json.dumps({"type": "start", "privacy": True}))
        await self.until("started")
        if first_message:
            await self.exchange("hola")

    async def until(self, kind: str, author: str | None = None) -> dict[str, Any]:
        while True:
            frame = json.loads(await self.ws.recv())
            if frame["type"] == "ping":
                await self.ws.send('{"type":"pong"}')
            elif frame["type"] == "error":
                raise RuntimeError(f"citizen {self.n}: {frame}")
            elif frame["type"] == kind and (author is None or frame.get("author") == author):
                return frame

    async def exchange(self, text: str) -> float:
        start = time.perf_counter()
        await self.ws.send(json.dumps({"type": "message", "id": secrets.token_hex(6), "text": text}))
        await self.until("message", author="bot")
        return time.perf_counter() - start


class RelayClient:
    def __init__(self, url: str, n: int) -> None:
        self.url = url
        self.n = n
        self.ws: Any = None

    async def open(self, first_message: bool = False) -> None:
        self.ws = await websockets.connect(self.url, proxy=None, local_addr=(address(self.n), 0), max_size=None)
        if first_message:
            await self.exchange("hola")

    async def exchange(self, text: str) -> float:
        start = time.perf_counter()
        await self.ws.send(json.dumps({"type": "message", "id": secrets.token_hex(6), "text": text}))
        await self.ws.recv()
        return time.perf_counter() - start


async def exchange_load(clients: list[Any], messages: int) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def talk(client: Any) -> None:
        for i in range(messages):
            latencies.append(await client.exchange(f"consulta número {i} de {client.n}"))

    started = time.perf_counter()
    await asyncio.gather(*(talk(c) for c in clients))
    return time.perf_counter() - started, latencies


async def measure(kind: str, url: str, pid: int, citizens: int, messages: int, idle: int) -> dict[str, Any]:
    make = ChatCitizen if kind == "canales" else RelayClient
    clients = [make(url, n) for n in range(citizens)]
    await asyncio.gather(*(c.open() for c in clients))
    await exchange_load(clients, 2)  # warm up
    elapsed, latencies = await exchange_load(clients, messages)
    for c in clients:
        await c.ws.close()
    await asyncio.sleep(1.0)
    before = rss(pid)
    idlers = [make(url, citizens + n) for n in range(idle)]
    for chunk in range(0, idle, 100):
        await asyncio.gather(*(c.open(first_message=True) for c in idlers[chunk:chunk + 100]))
    await asyncio.sleep(2.0)
    after = rss(pid)
    for c in idlers:
        await c.ws.close()
    total = citizens * messages
    return {
        "per_s": total / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "idle_kib": (after - before) / idle / 1024,
    }


def site_file(workdir: Path) -> Path:
    site = workdir / "bench.toml"
    site.write_text(
        'id = "bench"\nname = "Bench"\n[hours]\nalways = true\n[holidays]\ncategories = []\n'
        f'[plugins.chat_human]\nallowed_origins = ["{ORIGIN}"]\n'
        "[plugins.chat_human.limits]\nmessages_per_minute = 600\nmessage_burst = 100\n"
        "ip_message_burst = 200\nframe_burst = 200\n"
        "[plugins.echo]\n"
    )
    return site


async def run_one(label: str, database_url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from canales.core import migrate

    await migrate.upgrade(database_url)
    result: dict[str, Any] = {"database": label}
    port = free_port()
    env = {
        "CANALES_SITES": str(site_file(workdir)), "DATABASE_URL": database_url,
        "CANALES_PLUGIN_MODULES": "echo=echo_handler", "PYTHONPATH": str(HERE),
    }
    async with server(["--factory", "canales.core.app:app_from_env"], env, port, "/s/bench/chat/ws", args.deflate) as proc:
        canales = await measure("canales", f"ws://127.0.0.1:{port}/s/bench/chat/ws", proc.pid, args.citizens, args.messages, args.idle)
    port = free_port()
    async with server(["--factory", "baseline_relay:app"], {"PYTHONPATH": str(HERE)}, port, "/ws", args.deflate) as proc:
        bare = await measure("bare", f"ws://127.0.0.1:{port}/ws", proc.pid, args.citizens, args.messages, args.idle)
    result.update({f"canales_{k}": v for k, v in canales.items()})
    result.update({f"bare_{k}": v for k, v in bare.items()})
    result["ratio"] = canales["per_s"] / bare["per_s"]
    return result


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


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.citizens} citizens x {args.messages} messages, closed loop; {args.idle} idle connections for memory "
        f"(each exchanged one message); permessage-deflate {'on' if args.deflate else 'off'}\n"
    )
    print(f"{'database':<11}{'canales msg/s':>14}{'p50/p99 ms':>16}{'bare relay msg/s':>18}{'p50/p99 ms':>14}{'ratio':>7}{'idle KiB/conn canales':>23}{'bare':>7}")
    for r in results:
        print(
            f"{r['database']:<11}{r['canales_per_s']:>14.0f}{r['canales_p50_ms']:>8.1f}/{r['canales_p99_ms']:<7.1f}"
            f"{r['bare_per_s']:>18.0f}{r['bare_p50_ms']:>7.1f}/{r['bare_p99_ms']:<6.1f}{r['ratio']:>7.3f}"
            f"{r['canales_idle_kib']:>23.1f}{r['bare_idle_kib']:>7.1f}"
        )
    print(
        "\nratio = canales messages/s (citizen message stored, reply stored through core and received over the socket)"
        " / bare relay messages/s, same run, same machine."
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--deflate", action="store_true", help="compress frames (permessage-deflate), which canales serve turns off"
    )
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.database in ("sqlite", "both"):
            results.append(await run_one("sqlite", f"sqlite:///{workdir}/canales.db", args, workdir))
        if args.database in ("postgresql", "both"):
            pg = await postgres_database()
            if pg is None:
                print("PostgreSQL not reachable: skipped")
            else:
                try:
                    results.append(await run_one("postgresql", pg, args, workdir))
                finally:
                    await drop_postgres(pg)
    report(results, args)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
