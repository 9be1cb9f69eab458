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


def site_for(standin: Any, site_file: Any, **kw: Any) -> Any:
    return site_file(site_text(standin.url, **kw))


async def test_retryable_failure_retries_with_backoff(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        post = await scheduled_post(site, await people(site), clock)
        standin.failures = ["5xx", "5xx"]
        clock.set(post.publish_at)
        assert (await scheduler.run_once(site)).retrying == 1
        stored = await get_post(site, post.id)
        assert stored.state == "retrying" and stored.next_attempt_at > clock()
        assert (await scheduler.run_once(site)).claimed == 0  # not before its backoff
        for _ in range(2):
            clock.set((await get_post(site, post.id)).next_attempt_at)
            await scheduler.run_once(site)
        assert (await get_post(site, post.id)).state == "published"
        assert len(standin.calls) == 3 and standin.published() == {post.key: 1}
        [target] = await targets_of(site, post.id)
        assert target.attempts == 3 and target.last_error is None


async def test_retries_stop_after_max_attempts(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    clock.set(T0)
    path = site_for(standin, site_file, publisher="max_attempts = 2")
    async with run_app(path, plugins=plugins(), background=False) as app:
        site = app.site()
        post = await scheduled_post(site, await people(site), clock)
        standin.failures = ["5xx"] * 5
        clock.set(post.publish_at)
        await scheduler.run_once(site)
        clock.set((await get_post(site, post.id)).next_attempt_at)
        assert (await scheduler.run_once(site)).failed == 1
        stored = await get_post(site, post.id)
        assert stored.state == "failed" and "503" in stored.reason
        assert len(standin.calls) == 2


async def test_non_retryable_error_fails_with_reason_and_alert(run_app: Any, site_file: Any, standin: Any,
                                                                clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        post = await scheduled_post(site, await people(site), clock)
        standin.failures = ["duplicate"]
        clock.set(post.publish_at)
        assert (await scheduler.run_once(site)).failed == 1
        clock.advance(hours=3)
        assert (await scheduler.run_once(site)).claimed == 0
        stored = await get_post(site, post.id)
        assert stored.state == "failed" and "506" in stored.reason
        assert len(standin.calls) == 1 and standin.posts == []
        [alert] = await open_alerts(site)
        assert alert.plugin == "publisher" and "506" in alert.message and "No se pudo publicar" in alert.message


async def test_timeout_is_unconfirmed_and_reconciled_without_posting_again(run_app: Any, site_file: Any,
                                                                          standin: Any, clock: Any) -> None:
    clock.set(T0)
    path = site_for(standin, site_file, pubtest="timeout = 0.3")
    async with run_app(path, plugins=plugins(), background=False) as app:
        site = app.site()
        post = await scheduled_post(site, await people(site), clock)
        standin.failures, standin.slow_seconds = ["timeout"], 1.0
        clock.set(post.publish_at)
        assert (await scheduler.run_once(site)).unconfirmed == 1
        assert (await get_post(site, post.id)).state == "unconfirmed"
        assert [a.level for a in await open_alerts(site)] == ["warning"]
        assert (await scheduler.run_once(site)).claimed == 0  # looked for after the delay only
        clock.advance(seconds=31)
        report = await scheduler.run_once(site)
        assert report.reconciled == 1 and report.published == 1
        stored = await get_post(site, post.id)
        [target] = await targets_of(site, post.id)
        assert stored.state == "published" and target.external_id == standin.posts[0]["id"]
        assert len(standin.calls) == 1 and standin.published() == {post.key: 1}
        assert await open_alerts(site) == []
        states = [e.state for e in await history(site, post.id)]
        assert states[-3:] == ["publishing", "unconfirmed", "published"]


async def test_crashed_claim_before_the_call_is_looked_for_then_failed(run_app: Any, site_file: Any,
                                                                        standin: Any, clock: Any) -> None:
    """A worker that claimed a post and died: after the lease the post is
    unconfirmed; it is looked for, never re-posted; not found, a person decides."""
    clock.set(T0)
    path = site_for(standin, site_file, publisher="reconcile_checks = 2\nlease_seconds = 60")
    async with run_app(path, plugins=plugins(), background=False) as app:
        site = app.site()
        post = await scheduled_post(site, await people(site), clock)
        clock.set(post.publish_at)
        [claimed] = await scheduler.claim(site)  # ... and the worker dies here
        assert claimed.state == "publishing"
        clock.advance(seconds=30)
        assert (await scheduler.run_once(site)).claimed == 0  # the lease still holds
        clock.advance(seconds=31)
        await scheduler.run_once(site)
        assert (await get_post(site, post.id)).state == "unconfirmed"
        [target] = await targets_of(site, post.id)
        assert target.state == "unconfirmed" and target.checks == 1
        clock.set(target.next_attempt_at)
        assert (await scheduler.run_once(site)).failed == 1
        stored = await get_post(site, post.id)
        assert stored.state == "failed" and "not found" in stored.reason
        assert standin.calls == [] and standin.lookups == 2
        assert any("no aparece" in a.message for a in await open_alerts(site))
        states = [e.state for e in await history(site, post.id)]
        assert states[-3:] == ["publishing", "unconfirmed", "failed"]


async def test_late_policy_after_downtime(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        soon = await scheduled_post(site, who, clock, minutes=60)
        earlier = await scheduled_post(site, who, clock, minutes=30, summary="Campaña de vacunación.",
                                       category="campana")
        # Down from T0 until 1 h 59 min after the first post's time: one is less than
        # 2 h late (published), the other more (flagged, not published).
        clock.set(T0 + dt.timedelta(minutes=60 + 119))
        report = await scheduler.run_once(site)
        assert report.published == 1 and report.missed == 1
        assert (await get_post(site, soon.id)).state == "published"
        assert (await get_post(site, earlier.id)).state == "missed"
        assert standin.published() == {soon.key: 1}
        [alert] = await open_alerts(site)
        assert "Campaña de vacunación" in alert.message and "no se publicó a tiempo" in alert.message


async def test_unapproved_post_expires_and_is_not_published(run_app: Any, site_file: Any, standin: Any,
                                                             clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await create_post(site, who.editor, draft(T0 + dt.timedelta(hours=1)), state="pending_approval")
        clock.set(post.publish_at)
        assert (await scheduler.run_once(site)).expired == 1
        assert (await get_post(site, post.id)).state == "expired"
        assert standin.calls == []
        [alert] = await open_alerts(site)
        assert alert.level == "warning" and "no fue aprobada" in alert.message


async def test_cancel_and_claim_cannot_both_win(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    from canales.plugins.publisher.workflow import WrongState, cancel

    clock.set(T0)
    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        first = await scheduled_post(site, who, clock)
        second = await scheduled_post(site, who, clock, summary="Otra noticia de becas.")
        clock.set(first.publish_at)
        await cancel(site, who.editor, second.id)
        claimed = await scheduler.claim(site)
        assert [p.id for p in claimed] == [first.id]
        try:
            await cancel(site, who.editor, first.id)
        except WrongState as exc:
            assert "Publicándose" in str(exc)
        else:
            raise AssertionError("a post being published was cancelled")


async def test_montevideo_and_madrid_publish_at_the_local_hour(run_app: Any, site_file: Any, standin: Any,
                                                               clock: Any) -> None:
    clock.set(dt.datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    madrid = site_file(site_text(standin.url, id="madrid", tz="Europe/Madrid"), id="madrid")
    mvd = site_file(site_text(standin.url, id="mvd"), id="mvd")
    async with run_app(madrid, mvd, plugins=plugins(), background=False) as app:
        es, uy = app.site("madrid"), app.site("mvd")
        es_who, uy_who = await people(es), await people(uy)
        # Madrid: 10:00 is 09:00 UTC before the change of 29 March, 08:00 UTC after.
        before = await create_post(es, es_who.admin, draft("2026-03-28 10:00"), state="scheduled")
        after = await create_post(es, es_who.admin, draft("2026-03-29 10:00", summary="Segunda."), state="scheduled")
        # Montevideo has no DST since 2015: 10:00 is always 13:00 UTC.
        march = await create_post(uy, uy_who.admin, draft("2026-03-29 10:00"), state="scheduled")
        october = await create_post(uy, uy_who.admin, draft("2026-10-04 10:00", summary="Otra."), state="scheduled")
        assert before.publish_at == dt.datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
        assert after.publish_at == dt.datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
        assert march.publish_at == dt.datetime(2026, 3, 29, 13, 0, tzinfo=UTC)
        assert october.publish_at == dt.datetime(2026, 10, 4, 13, 0, tzinfo=UTC)
        assert before.timezone == "Europe/Madrid" and march.timezone == "America/Montevideo"
        clock.set(dt.datetime(2026, 3, 29, 7, 59, 59, tzinfo=UTC))
        await scheduler.run_once(es)
        assert (await get_post(es, after.id)).state == "scheduled"
        clock.set(dt.datetime(2026, 3, 29, 8, 0, tzinfo=UTC))
        await scheduler.run_once(es)
        assert (await get_post(es, after.id)).state == "published"
        clock.set(dt.datetime(2026, 3, 29, 12, 59, 59, tzinfo=UTC))
        await scheduler.run_once(uy)
        assert (await get_post(uy, march.id)).state == "scheduled"
        clock.set(dt.datetime(2026, 3, 29, 13, 0, tzinfo=UTC))
        await scheduler.run_once(uy)
        assert (await get_post(uy, march.id)).state == "published"
        # Each site's scheduler publishes only its own posts.
        assert (await get_post(es, before.id)).state == "missed"
        assert standin.published() == {after.key: 1, march.key: 1}


class Memory:
    """A second, in-process channel without link cards, to publish on two channels."""

    def __init__(self) -> None:
        self.posts: list[Any] = []

    from canales import hookimpl as _hookimpl

    @_hookimpl
    def publication_targets(self, site: Any) -> list[Any]:
        from canales.core.publication import PublicationTarget

        return [PublicationTarget("memoria", "Memoria", 200, link_card=False)]

    @_hookimpl
    def publish_post(self, site: Any, channel: str, publication: Any) -> Any:
        if channel != "memoria":
            return None
        from canales.core.publication import PublishResult

        async def call() -> PublishResult:
            self.posts.append(publication)
            return PublishResult(f"mem-{len(self.posts)}")

        return call()


async def test_each_channel_has_its_own_state_and_id(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    from canales.core.plugins import from_module

    clock.set(T0)
    memory = Memory()
    path = site_file(site_text(standin.url, publisher='channels = ["pubtest", "memoria"]') + "\n[plugins.memoria]\n")
    async with run_app(path, plugins={**plugins(), "memoria": from_module("memoria", memory)}, background=False) as app:
        site = app.site()
        post = await scheduled_post(site, await people(site), clock)
        standin.failures = ["5xx"]
        clock.set(post.publish_at)
        await scheduler.run_once(site)
        by_channel = {t.channel: t for t in await targets_of(site, post.id)}
        assert by_channel["memoria"].state == "published" and by_channel["memoria"].external_id == "mem-1"
        assert by_channel["pubtest"].state == "retrying"
        assert (await get_post(site, post.id)).state == "retrying"
        clock.set(by_channel["pubtest"].next_attempt_at)
        await scheduler.run_once(site)
        assert (await get_post(site, post.id)).state == "published"
        assert len(memory.posts) == 1 and standin.published() == {post.key: 1}
        # Without a link card the link goes at the end of the text.
        assert memory.posts[0].text.endswith("\n\nhttps://www.gub.uy/tramites/becas")
        assert await count(site, PostTarget, PostTarget.post_id == post.id) == 2


async def test_periodic_job_publishes_within_seconds(run_app: Any, site_file: Any, standin: Any) -> None:
    """With the background jobs running on the real clock, a post is out within a
    couple of seconds of its time."""
    from helpers import eventually

    path = site_for(standin, site_file, publisher="min_lead_minutes = 0\npoll_seconds = 0.5")
    async with run_app(path, plugins=plugins()) as app:
        site = app.site()
        who = await people(site)
        when = dt.datetime.now(UTC) + dt.timedelta(seconds=2)
        post = await create_post(site, who.admin, draft(when), state="scheduled")

        async def published() -> bool:
            return (await get_post(site, post.id)).state == "published"

        await eventually(published, timeout=10)
        stored = await get_post(site, post.id)
        lateness = (stored.published_at - when).total_seconds()
        assert 0 <= lateness < 3, lateness
        assert standin.published() == {post.key: 1}
        async with site.db.read() as session:
            assert (await session.exec(select(Post.state))).all() == ["published"]


async def test_a_claim_takes_at_most_one_batch(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_for(standin, site_file, publisher="batch = 5"), plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        for i in range(30):
            await create_post(site, who.admin, draft(T0 + dt.timedelta(hours=1), summary=f"Noticia {i}."),
                              state="scheduled")
        clock.advance(hours=1)
        first, second = await scheduler.claim(site), await scheduler.claim(site)
        assert len(first) == len(second) == 5
        assert not {p.id for p in first} & {p.id for p in second}


async def test_hook_publication_targets(run_app: Any, site_file: Any, standin: Any) -> None:
    from canales.core.publication import targets

    path = site_for(standin, site_file, pubtest="max_length = 280\nlink_card = false")
    async with run_app(path, plugins=plugins(), background=False) as app:
        [(name, target)] = targets(app.site()).items()
        assert name == "pubtest" and target.max_length == 280 and not target.link_card


async def test_hook_publish_post(run_app: Any, site_file: Any, standin: Any) -> None:
    from canales.core.publication import NoPublisher, Publication, publish

    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        result = await publish(site, "pubtest", Publication(key="k-1", text="Hola", link="https://www.gub.uy/"))
        assert result.external_id == standin.posts[0]["id"] and standin.calls[0]["key"] == "k-1"
        try:
            await publish(site, "telegram", Publication(key="k-2", text="Hola"))
        except NoPublisher as exc:
            assert "telegram" in str(exc)
        else:
            raise AssertionError("published on a channel nobody owns")
        assert len(standin.calls) == 1


async def test_hook_find_published_post(run_app: Any, site_file: Any, standin: Any) -> None:
    from canales.core.publication import Publication, find_published, publish

    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        made = Publication(key="k-1", text="Hola", link="https://www.gub.uy/")
        assert await find_published(site, "pubtest", made) is None
        result = await publish(site, "pubtest", made)
        found = await find_published(site, "pubtest", made)
        assert found is not None and found.external_id == result.external_id
        assert await find_published(site, "pubtest", Publication(key="other", text="x")) is None


async def test_a_retry_left_behind_by_downtime_fails_for_a_person(run_app: Any, site_file: Any, standin: Any,
                                                                  clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_for(standin, site_file), plugins=plugins(), background=False) as app:
        site = app.site()
        post = await scheduled_post(site, await people(site), clock)
        standin.failures = ["5xx"]
        clock.set(post.publish_at)
        await scheduler.run_once(site)
        clock.set((await get_post(site, post.id)).next_attempt_at + dt.timedelta(hours=3))
        report = await scheduler.run_once(site)
        assert report.claimed == 0
        stored = await get_post(site, post.id)
        assert stored.state == "failed" and stored.reason == "late:failed"
        assert len(standin.calls) == 1 and standin.posts == []
        assert len(await open_alerts(site)) == 1
