"""Benchmark: the publisher's scheduler claiming and dispatching 10,000 due posts
with N worker processes, beside a bare baseline measured in the same run.

    python bench/publisher.py [--database-url postgresql://postgres@127.0.0.1/postgres]
                              [--posts 10000] [--workers 4] [--batch 50] [--latency-ms 0]

* baseline: the same number of posts claimed by the same number of processes with
  the raw statement alone — ``UPDATE … WHERE id IN (SELECT … LIMIT batch FOR UPDATE
  SKIP LOCKED) RETURNING id`` in a loop — no dispatch, no bookkeeping;
* publisher: ``scheduler.run_once`` in each process — claim, mark the targets,
  call the channel (an in-process channel that records every call, optionally
  sleeping ``--latency-ms``), store the post id, settle, write the history.

Prints both times, posts per second, the ratio, and the duplicates of each run
(posts claimed or published more than once across processes: must be 0).
With a PostgreSQL URL a scratch database is created and dropped; with none, a
temporary SQLite file is used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITE = """
id = "bench"
name = "Benchmark"
timezone = "America/Montevideo"
[hours]
always = true
[holidays]
categories = []
[plugins.bench]
[plugins.publisher]
allowed_link_domains = ["gub.uy"]
channels = ["bench"]
batch = {batch}
min_lead_minutes = 0
"""


class BenchChannel:
    """A channel that records what it publishes (per process)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.keys: list[str] = []

    from canales import hookimpl as _hookimpl

    @_hookimpl
    def publication_targets(self, site: Any) -> list[Any]:
        from canales.core.publication import PublicationTarget

        return [PublicationTarget("bench", "Bench", 63206)]

    @_hookimpl
    def publish_post(self, site: Any, channel: str, publication: Any) -> Any:
        if channel != "bench":
            return None
        from canales.core.publication import PublishResult

        async def call() -> PublishResult:
            if self.latency:
                await asyncio.sleep(self.latency)
            self.keys.append(publication.key)
            return PublishResult(f"bench-{publication.key}")

        return call()


async def seed(url: str, posts: int) -> None:
    """``posts`` posts due a minute ago, each with one pending target."""
    from sqlalchemy import delete, insert, literal
    from sqlmodel import select

    from canales.core.db import Database
    from canales.core.models import Agent, SiteRow
    from canales.plugins.publisher.models import Post, PostEvent, PostTarget

    db = Database(url)
    now = dt.datetime.now(dt.timezone.utc)
    async with db.write() as session:
        for model in (PostEvent, PostTarget, Post):
            await session.exec(delete(model))  # type: ignore[call-overload]
        if await session.get(SiteRow, "bench") is None:
            session.add(SiteRow(id="bench", name="Benchmark"))
            session.add(Agent(id=1, email="bench@gub.uy", name="Bench", password_hash="-"))
        await session.flush()
        rows = [dict(site_id="bench", key=str(uuid.uuid4()), summary=f"Noticia {i}", link=f"https://www.gub.uy/{i}",
                     category="otro", publish_at=now - dt.timedelta(minutes=1), timezone="America/Montevideo",
                     state="scheduled", author_id=1, approved_by_id=1, approved_at=now, version=1,
                     created_at=now, updated_at=now) for i in range(posts)]
        for start in range(0, posts, 2000):
            await session.exec(insert(Post).values(rows[start:start + 2000]))  # type: ignore[call-overload]
        targets = select(Post.id, Post.site_id, literal("bench"), literal("pending"), literal(0), literal(0))
        await session.exec(insert(PostTarget).from_select(  # type: ignore[call-overload]
            ["post_id", "site_id", "channel", "state", "attempts", "checks"], targets))
    await db.close()


async def _bare(url: str, batch: int, ready: Any) -> tuple[list[int], float, float]:
    from sqlalchemy import update
    from sqlmodel import col, select

    from canales.core.db import Database
    from canales.plugins.publisher.models import Post

    db = Database(url)
    await db.ping()
    ready.wait()
    started = time.time()
    claimed: list[int] = []
    while True:
        now = dt.datetime.now(dt.timezone.utc)
        candidates = select(Post.id).where(Post.state == "scheduled", col(Post.publish_at) <= now).limit(batch)
        if db.is_sqlite:
            chosen = col(Post.id).in_(candidates.scalar_subquery())
        else:
            locked = candidates.with_for_update(skip_locked=True).cte("c").prefix_with("MATERIALIZED")
            chosen = col(Post.id).in_(select(locked.c.id))
        async with db.write() as session:
            result = await session.exec(  # type: ignore[call-overload]
                update(Post).where(chosen, Post.state == "scheduled").values(state="publishing").returning(Post.id))
            ids = list(result.scalars().all())
        if not ids:
            break
        claimed.extend(ids)
    ended = time.time()
    await db.close()
    return claimed, started, ended


async def _publisher(url: str, site_path: str, latency: float, ready: Any) -> tuple[list[str], float, float]:
    from canales.core.plugins import from_module
    from canales.core.runtime import Canales
    from canales.plugins.publisher import scheduler

    channel = BenchChannel(latency)
    canales = Canales([site_path], database_url=url, plugins={"bench": from_module("bench", channel)},
                      background=False)
    await canales.start()
    try:
        ready.wait()
        started = time.time()
        await scheduler.run_once(canales.site("bench"))
        ended = time.time()
    finally:
        await canales.stop()
    return channel.keys, started, ended


def _worker(kind: str, url: str, site_path: str, batch: int, latency: float, ready: Any, out: Any) -> None:
    # Every process imports and connects first; all start together at the barrier.
    if kind == "bare":
        result: Any = asyncio.run(_bare(url, batch, ready))
    else:
        result = asyncio.run(_publisher(url, site_path, latency, ready))
    out.put(result)


def run(kind: str, url: str, site_path: str, workers: int, batch: int, latency: float) -> tuple[float, Counter[Any]]:
    """Run ``workers`` processes of ``kind``; the time from the first start to the
    last finish, and how often each post was claimed or published."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    ready = context.Barrier(workers)
    processes = [context.Process(target=_worker, args=(kind, url, site_path, batch, latency, ready, out))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    results = [out.get() for _ in processes]
    for process in processes:
        process.join()
    counts: Counter[Any] = Counter()
    for items, _, _ in results:
        counts.update(items)
    return max(r[2] for r in results) - min(r[1] for r in results), counts


async def _postgres(base: str, name: str, create: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(base.replace("postgresql://", "postgres://", 1))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' if create else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="time each channel call takes")
    args = parser.parse_args()

    from canales.core import migrate

    scratch = Path(tempfile.mkdtemp())
    pg_name = None
    if args.database_url.startswith(("postgresql://", "postgres://")):
        pg_name = f"bench_publisher_{os.getpid()}_{secrets.token_hex(3)}"
        asyncio.run(_postgres(args.database_url, pg_name, True))
        url = args.database_url.rsplit("/", 1)[0] + f"/{pg_name}"
    else:
        url = f"sqlite:///{scratch / 'bench.db'}"
    try:
        asyncio.run(migrate.upgrade(url))
        site_path = scratch / "bench.toml"
        site_path.write_text(SITE.format(batch=args.batch), "utf-8")
        print(f"{args.posts} due posts, {args.workers} worker processes, batch {args.batch}, "
              f"channel latency {args.latency_ms:g} ms, {url.split('://')[0]}")

        asyncio.run(seed(url, args.posts))
        bare_time, bare = run("bare", url, str(site_path), args.workers, args.batch, 0.0)
        asyncio.run(seed(url, args.posts))
        full_time, full = run("publisher", url, str(site_path), args.workers, args.batch, args.latency_ms / 1000)

        bare_dup = sum(n - 1 for n in bare.values() if n > 1)
        full_dup = sum(n - 1 for n in full.values() if n > 1)
        print(f"baseline  (raw UPDATE…RETURNING claims only): {bare_time:7.2f} s  "
              f"{len(bare) / bare_time:8.0f} posts/s  claimed {len(bare)}  duplicates {bare_dup}")
        print(f"publisher (claim + publish + store id + settle): {full_time:7.2f} s  "
              f"{len(full) / full_time:8.0f} posts/s  published {len(full)}  duplicates {full_dup}")
        print(f"ratio publisher/baseline: {full_time / bare_time:.1f}x the time")
        ok = len(bare) == len(full) == args.posts and bare_dup == full_dup == 0
        if not ok:
            print("FAILED: not every post was published exactly once", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if pg_name:
            asyncio.run(_postgres(args.database_url, pg_name, False))


if __name__ == "__main__":
    sys.exit(main())
