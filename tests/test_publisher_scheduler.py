"""The scheduler on SQLite and PostgreSQL, against the test channel's stand-in
served for real: on time, once; retries; non-retryable errors; timeouts reconciled
by reading back, never by posting again; crashed claims; late posts; alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import select

from canales.core.alerts import open_alerts
from canales.plugins.publisher import scheduler
from canales.plugins.publisher.models import Post, PostTarget
from canales.plugins.publisher.workflow import approve, create_post, get_post, history, targets_of
from publisher_support import UTC, count, draft, people, plugins, site_text, standin  # noqa: F401

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday 09:00 in Montevideo


async def scheduled_post(site: Any, who: Any, clock: Any, minutes: int = 60, **kw: Any) -> Post:
    post = await create_post(site, who.editor, draft(T0 + dt.timedelta(minutes=minutes), **kw), state="pending_approval")
    return await approve(site, who.supervisor, post.id)


async def test_publishes_on_time_once(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_file(site_text(standin.url)), plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await scheduled_post(site, who, clock)
        clock.advance(minutes=59, seconds=59)
        assert (await scheduler.run_once(site)).claimed == 0
        assert standin.calls == []
        clock.advance(seconds=1)
        report = await scheduler.run_once(site)
        assert report.published == 1
        again = await scheduler.run_once(site)
        assert again.claimed == 0
        assert standin.published() == {post.key: 1}
        stored = await get_post(site, post.id)
        assert stored.state == "published" and stored.published_at == T0 + dt.timedelta(minutes=60)
        [target] = await targets_of(site, post.id)
        assert target.external_id == standin.posts[0]["id"]
        assert standin.calls[0]["message"] == post.summary and standin.calls[0]["link"] == post.link
        states = [e.state for e in await history(site, post.id)]
        assert states == ["pending_approval", "scheduled", "publishing", "published"]
