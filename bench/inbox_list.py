"""How fast the inbox's conversation list answers as a site fills up.

Builds a SQLite site with N conversations (3 messages and 2 labels each), logs an
agent in, and times ``GET /inbox/{site}/?state=waiting`` (one page of 50, counts per
state, unread counts, labels) through the whole ASGI stack, against a bare baseline
measured in the same run: ``GET /healthz`` (same app, same middleware, one trivial
query). Prints p50/p95 per size and the ratio to the baseline.

    .venv/bin/python bench/inbox_list.py [--sizes 100 1000 10000] [--requests 60]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from canales.core import migrate
from canales.core.agents import add_agent
from canales.core.app import create_app
from canales.core.models import Contact, Conversation, ConversationLabel, Message
from canales.core.runtime import Canales

SITE = """
id = "bench"
name = "Sitio de prueba"
[hours]
always = true
[holidays]
categories = []
"""
PASSWORD = "clave-de-medicion-123"


async def fill(canales: Canales, count: int) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    async with canales.db.write() as session:
        await session.exec(
            insert(Contact),
            params=[{"site_id": "bench", "channel": "api", "external_id": f"c{i}", "name": f"Persona {i}", "data": {}, "created_at": now, "last_seen_at": now} for i in range(count)],
        )
        await session.exec(
            insert(Conversation),
            params=[
                {"site_id": "bench", "channel": "api", "thread_key": f"c{i}", "contact_id": i + 1, "state": "queued", "after_hours": False,
                 "last_seq": 3, "data": {}, "created_at": now - dt.timedelta(seconds=count - i), "updated_at": now}
                for i in range(count)
            ],
        )
        await session.exec(
            insert(Message),
            params=[
                {"site_id": "bench", "conversation_id": i + 1, "seq": s, "direction": "in", "author_kind": "citizen", "channel": "api",
                 "external_id": f"m{i}-{s}", "text": f"Consulta número {i}, mensaje {s}", "payload": {}, "visibility": "private",
                 "created_at": now, "occurred_at": now, "handled_at": now}
                for i in range(count)
                for s in (1, 2, 3)
            ],
        )
        await session.exec(
            insert(ConversationLabel),
            params=[{"conversation_id": i + 1, "name": name, "site_id": "bench"} for i in range(count) for name in ("reclamo", "urgente")],
        )


async def timed(client: httpx.AsyncClient, path: str, requests: int) -> list[float]:
    for _ in range(5):  # warm up
        assert (await client.get(path)).status_code == 200
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        response = await client.get(path)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200
    return samples


def describe(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def measure(size: int, requests: int, folder: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    site_file = folder / "bench.toml"
    site_file.write_text(SITE, "utf-8")
    url = f"sqlite:///{folder}/bench-{size}.db"
    await migrate.upgrade(url)
    canales = Canales([site_file], database_url=url, background=False)
    app = create_app(canales)
    await canales.start()
    try:
        await add_agent(canales.db, email="sara@bench.uy", name="Sara", password=PASSWORD, site_id="bench", role="supervisor")
        await fill(canales, size)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            page = await client.get("/inbox/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            await client.post("/inbox/login", data={"email": "sara@bench.uy", "password": PASSWORD, "csrf_token": token})
            listing = await timed(client, "/inbox/bench/?state=waiting", requests)
            baseline = await timed(client, "/healthz", requests)
    finally:
        await canales.stop()
    return describe(listing), describe(baseline)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, SQLite; {args.requests} requests per figure")
    print(f"{'conversations':>13} | {'list p50':>9} {'list p95':>9} | {'baseline p50':>12} | {'ratio p50':>9}")
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            (l50, l95), (b50, _) = await measure(size, args.requests, Path(scratch))
            print(f"{size:>13} | {l50:>7.1f}ms {l95:>7.1f}ms | {b50:>10.2f}ms | {l50 / b50:>8.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
