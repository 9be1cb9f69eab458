"""Exactly-once across processes: several ``canales posts publish-due`` worker
processes against one PostgreSQL with many posts due at the same moment, and a
worker process that dies between the channel's answer and the state update.
Publish calls are counted at the stand-in, which every process calls over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from canales.plugins.publisher import scheduler
from canales.plugins.publisher.models import Post, PostTarget
from canales.plugins.publisher.plan import import_plan
from canales.plugins.publisher.workflow import create_post, get_post, history, targets_of
from publisher_support import UTC, draft, people, plugins, site_text, standin  # noqa: F401

TESTS = Path(__file__).parent


def start_worker(path: Path, database_url: str, *args: str, **env: str) -> Any:
    """Start one ``canales posts publish-due`` process."""
    return asyncio.create_subprocess_exec(
        sys.executable, "-m", "canales.core.cli", "posts", "publish-due", "--site", str(path),
        "--database-url", database_url, "--plugin", "pubtest=fixture_plugins.publishing", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), **env},
    )


async def finish(process: Any) -> tuple[int, str, str]:
    """Wait for a worker process; its exit status and output."""
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


async def worker(path: Path, database_url: str, *args: str, **env: str) -> tuple[int, str, str]:
    """Run one ``canales posts publish-due`` pass in a process of its own."""
    return await finish(await start_worker(path, database_url, *args, **env))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_many_worker_processes_publish_every_post_once(run_app: Any, site_file: Any, standin: Any,
                                                              database_url: str) -> None:
    posts = 120
    standin.delay = 0.05  # a channel call takes a while: the workers' passes overlap
    path = site_file(site_text(standin.url, publisher="batch = 5\nmin_lead_minutes = 0\npoll_seconds = 0.2"))
    async with run_app(path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        # Every worker is up and polling before the posts exist (interpreters on a
        # busy machine start seconds apart); then all come due at the same moment.
        processes = [await start_worker(path, database_url, "--for", "9") for _ in range(4)]
        for process in processes:
            assert "a pass every" in (await process.stderr.readline()).decode()
        when = (dt.datetime.now(UTC) + dt.timedelta(seconds=4)).astimezone(site.config.tz)
        rows = ["date,time,summary,link,category"] + [
            f"{when:%Y-%m-%d},{when:%H:%M:%S},Noticia número {i},https://www.gub.uy/n/{i},beneficio"
            for i in range(posts)
        ]
        report = await import_plan(site, who.admin, "\n".join(rows), state="scheduled")
        assert len(report.created) == posts

        results = await asyncio.gather(*(finish(p) for p in processes))

        for code, out, err in results:
            assert code == 0, err
        claimed = [int(re.search(r"claimed (\d+)", out).group(1)) for _, out, _ in results]  # type: ignore[union-attr]
        assert sum(claimed) == posts
        assert sum(1 for c in claimed if c) >= 2, claimed  # the work really was shared
        counts = standin.published()
        assert len(standin.calls) == posts and len(counts) == posts and set(counts.values()) == {1}
        async with site.db.read() as session:
            stored = list((await session.exec(select(Post))).all())
            targets = list((await session.exec(select(PostTarget))).all())
        assert {p.state for p in stored} == {"published"}
        assert {t.external_id for t in targets} == {p["id"] for p in standin.posts}


async def test_crash_between_call_and_update_never_duplicates(run_app: Any, site_file: Any, standin: Any,
                                                               database_url: str, clock: Any) -> None:
    path = site_file(site_text(standin.url, publisher="min_lead_minutes = 0\nlease_seconds = 30"))
    async with run_app(path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await create_post(site, who.admin, draft(dt.datetime.now(UTC) + dt.timedelta(seconds=1)),
                                 state="scheduled")
        await asyncio.sleep(1.1)

        code, _, _ = await worker(path, database_url, PUBTEST_CRASH_AFTER_PUBLISH="1")

        assert code == 3  # died right after the channel accepted the post
        assert standin.published() == {post.key: 1}
        assert (await get_post(site, post.id)).state == "publishing"
        [target] = await targets_of(site, post.id)
        assert target.state == "publishing" and target.external_id is None
        # Restarted before the lease ran out: nobody touches it.
        code, out, _ = await worker(path, database_url)
        assert code == 0 and "claimed 0" in out
        # After the lease: taken over as unconfirmed, found on the channel, published.
        clock.set(dt.datetime.now(UTC) + dt.timedelta(seconds=31))
        report = await scheduler.run_once(site)
        assert report.reconciled == 1 and report.published == 1
        [target] = await targets_of(site, post.id)
        assert target.state == "published" and target.external_id == standin.posts[0]["id"]
        assert len(standin.calls) == 1 and standin.published() == {post.key: 1}
        assert [e.state for e in await history(site, post.id)][-3:] == ["publishing", "unconfirmed", "published"]
