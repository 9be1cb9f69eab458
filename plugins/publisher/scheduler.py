"""The scheduler: publishes due posts once, on time, through their channels.

Every worker of every host runs :func:`run_once` every ``poll_seconds``. A pass:

1. flags posts nobody approved by their time (``expired``) and approved posts the
   scheduler reaches later than the site's ``late_window_minutes`` (``missed``):
   neither is published;
2. *claims* a batch of due posts in one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE
   SKIP LOCKED) AND <still due> RETURNING``: a post is claimed by exactly one
   worker, which gets a lease and a ``claim_token``; in the same transaction the
   post's due targets are marked ``publishing`` — recorded *before* the channel is
   called;
3. calls each target's channel; the channel's post id is stored the moment it is
   returned, before anything else;
4. settles the post from its targets, only if the claim is still its own.

A timeout (``DeliveryOutcomeUnknown``) makes a target ``unconfirmed``: it is looked
for on the channel (``find_published``), never posted again. A claim whose lease
ran out (the worker died between the call and the update) is taken over as
``unconfirmed`` and reconciled the same way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, or_, update
from sqlmodel import col, select

from canales.core.publication import NoPublisher, Publication, PublishResult, find_published, publish, targets
from canales.core.site import Site
from canales.core.types import DeliveryError, DeliveryOutcomeUnknown
from canales.plugins.publisher import notices
from canales.plugins.publisher.drafts import compose, settings_of
from canales.plugins.publisher.models import Post, PostEvent, PostTarget
from canales.plugins.publisher.settings import PublisherSettings

log = logging.getLogger("canales.publisher")

# Never retry sooner than this, so that a channel answering "retry after 0 s" cannot
# spin a pass.
MIN_DELAY = 1.0


@dataclass
class PassReport:
    """What one scheduler pass did, by outcome."""

    claimed: int = 0
    published: int = 0
    retrying: int = 0
    failed: int = 0
    unconfirmed: int = 0
    reconciled: int = 0
    expired: int = 0
    missed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, other: "PassReport") -> None:
        """Add another pass's figures to these."""
        for name in ("claimed", "published", "retrying", "failed", "unconfirmed", "reconciled", "expired", "missed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for state, n in other.outcomes.items():
            self.outcomes[state] = self.outcomes.get(state, 0) + n


def backoff(settings: PublisherSettings, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: exponential, capped, full jitter."""
    high = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempt - 1))
    return max(MIN_DELAY, random.uniform(settings.retry_base_seconds / 2, max(high, settings.retry_base_seconds / 2)))


def publication_for(site: Site, post: Post, channel: str) -> Publication:
    """What the channel receives: the same ``key`` on every attempt and check."""
    target = targets(site).get(channel)
    text = compose(post.summary, post.link, target) if target else post.summary
    return Publication(key=post.key, text=text, link=post.link, scheduled_for=post.publish_at,
                       extra={"post_id": post.id, "category": post.category, "site": site.id})


# --- 1. flags --------------------------------------------------------------------


async def flag_late(site: Site, report: PassReport) -> None:
    """Expire unapproved posts whose time came; flag approved ones too late to go."""
    settings = settings_of(site)
    now = site.now()
    window = dt.timedelta(minutes=settings.late_window_minutes)
    rules = [
        ("expired", and_(Post.state == "pending_approval", col(Post.publish_at) <= now)),
        ("missed", and_(Post.state == "scheduled", col(Post.publish_at) < now - window)),
        # A retry that could not run in time after downtime: some channel may
        # already have it, so it is not "missed" (editable) but failed, for a person.
        ("failed", and_(Post.state == "retrying", col(Post.next_attempt_at) < now - window)),
    ]
    flagged: list[tuple[str, Post]] = []
    async with site.db.write() as session:
        for to, condition in rules:
            previous = {"expired": "pending_approval", "missed": "scheduled", "failed": "retrying"}[to]
            result = await session.exec(
                update(Post).where(Post.site_id == site.id, condition)
                .values(state=to, updated_at=now, version=Post.version + 1, reason=f"late:{to}")
                .returning(Post)
            )
            for post in result.scalars().all():
                session.add(PostEvent(post_id=post.id or 0, site_id=site.id, at=now, previous=previous, state=to))
                flagged.append((to, post))
    for to, post in flagged:
        setattr(report, to, getattr(report, to) + 1)
        await notices.late(site, post, to)


# --- 2. claim ----------------------------------------------------------------------


async def claim(site: Site, batch: int | None = None) -> list[Post]:
    """Atomically take up to ``batch`` posts that are due: first attempts, retries,
    unconfirmed posts to look for, and posts whose worker's lease ran out."""
    return [post for post, _ in await claim_with_targets(site, batch)]


async def claim_with_targets(site: Site, batch: int | None = None) -> list[tuple[Post, list[PostTarget]]]:
    """:func:`claim`, also returning each post's targets as the claim left them."""
    settings = settings_of(site)
    db = site.db
    now = site.now()
    window = dt.timedelta(minutes=settings.late_window_minutes)
    free = or_(col(Post.lease_until).is_(None), col(Post.lease_until) < now)
    due = or_(
        and_(Post.state == "scheduled", col(Post.publish_at) <= now, col(Post.publish_at) >= now - window),
        and_(Post.state == "retrying", col(Post.next_attempt_at) <= now, col(Post.next_attempt_at) >= now - window, free),
        and_(Post.state == "unconfirmed", col(Post.next_attempt_at) <= now, free),  # looking is always safe
        and_(Post.state == "publishing", col(Post.lease_until) < now),
    )
    candidates = (
        select(Post.id).where(Post.site_id == site.id, due)
        .order_by(col(Post.publish_at), col(Post.id)).limit(batch or settings.batch)
    )
    if db.is_sqlite:
        # BEGIN IMMEDIATE already makes this transaction the only writer.
        chosen = col(Post.id).in_(candidates.scalar_subquery())
    else:
        # A MATERIALIZED CTE locks its rows once. As a plain "id IN (subquery)" the
        # planner may re-run the locking subquery for every row it updates; each
        # re-run skips the rows this very statement just changed and takes the next
        # ones, so a "batch" of 5 silently becomes every due post.
        locked = candidates.with_for_update(skip_locked=True).cte("due_posts").prefix_with("MATERIALIZED")
        chosen = col(Post.id).in_(select(locked.c.id))
    token = str(uuid.uuid4())
    async with db.write() as session:
        result = await session.exec(
            update(Post)
            .where(chosen, due)
            .values(
                # A post still "publishing" past its lease lost its worker: whether
                # the channel got it is unknown.
                state=case((col(Post.state).in_(("scheduled", "retrying")), "publishing"), else_="unconfirmed"),
                claim_token=token,
                lease_until=now + dt.timedelta(seconds=settings.lease_seconds),
                updated_at=now,
                version=Post.version + 1,
            )
            .returning(Post)
        )
        posts = list(result.scalars().all())
        if not posts:
            return []
        publishing = [p.id for p in posts if p.state == "publishing"]
        recovering = [p.id for p in posts if p.state == "unconfirmed"]
        if recovering:
            stuck = await session.exec(
                update(PostTarget)
                .where(col(PostTarget.post_id).in_(recovering), PostTarget.state == "publishing")
                .values(state="unconfirmed", next_attempt_at=now, last_error="worker lost during the call")
                .returning(PostTarget.post_id)
            )
            crashed = set(stuck.scalars().all())
            for post in posts:
                if post.id in crashed:
                    session.add(PostEvent(post_id=post.id, site_id=site.id, at=now, previous="publishing",
                                          state="unconfirmed", note="lease expired: outcome unknown"))
        if publishing:
            await session.exec(
                update(PostTarget)
                .where(
                    col(PostTarget.post_id).in_(publishing),
                    col(PostTarget.state).in_(("pending", "retrying")),
                    or_(col(PostTarget.next_attempt_at).is_(None), col(PostTarget.next_attempt_at) <= now),
                )
                .values(state="publishing", attempts=PostTarget.attempts + 1)
            )
            for post in posts:
                if post.state == "publishing":
                    # The claim leaves next_attempt_at as it was: set only on retries.
                    previous = "retrying" if post.next_attempt_at else "scheduled"
                    session.add(PostEvent(post_id=post.id or 0, site_id=site.id, at=now, previous=previous,
                                          state="publishing"))
        rows = await session.exec(select(PostTarget).where(col(PostTarget.post_id).in_([p.id for p in posts])))
        by_post: dict[int, list[PostTarget]] = {}
        for target in rows.all():
            by_post.setdefault(target.post_id, []).append(target)
    return [(post, by_post.get(post.id or 0, [])) for post in posts]


# --- 3. dispatch ---------------------------------------------------------------------


Change = dict[str, object]


def _published(site: Site, result: PublishResult) -> Change:
    return dict(state="published", external_id=result.external_id[:255], url=result.url,
                published_at=site.now(), last_error=None, next_attempt_at=None)


async def _write(session: Any, target: PostTarget, change: Change) -> None:
    # A target the channel already gave an id for is never changed again: that id
    # is the truth, whatever a slower worker concluded meanwhile.
    await session.exec(
        update(PostTarget).where(col(PostTarget.id) == target.id, col(PostTarget.external_id).is_(None))
        .values(**change)
    )


async def _store_now(site: Site, target: PostTarget, change: Change) -> None:
    async with site.db.write() as session:
        await _write(session, target, change)


def _valid(result: object) -> PublishResult | None:
    if isinstance(result, PublishResult) and result.external_id:
        return result
    return None


async def _publish_target(site: Site, post: Post, target: PostTarget, store_now: bool) -> Change | None:
    """Call the channel; return the target's new values (or store a success at
    once when ``store_now`` and return ``None``)."""
    settings = settings_of(site)
    now = site.now
    publication = publication_for(site, post, target.channel)
    try:
        # A call that outlives half the lease would be taken over by another
        # worker as unconfirmed: treat it as unknown here too.
        async with asyncio.timeout(settings.lease_seconds / 2):
            result = _valid(await publish(site, target.channel, publication))
        if result is None:
            raise DeliveryOutcomeUnknown(f"channel {target.channel} returned no post id")
    except NoPublisher as exc:
        return dict(state="failed", last_error=str(exc))
    except (DeliveryOutcomeUnknown, TimeoutError) as exc:
        delay = max(settings.reconcile_delay_seconds, getattr(exc, "retry_after", None) or 0.0)
        return dict(state="unconfirmed", last_error=str(exc) or "timeout",
                    next_attempt_at=now() + dt.timedelta(seconds=delay))
    except DeliveryError as exc:
        if exc.retry and target.attempts < settings.max_attempts:
            delay = exc.retry_after if exc.retry_after is not None else backoff(settings, target.attempts)
            return dict(state="retrying", last_error=str(exc)[:2000],
                        next_attempt_at=now() + dt.timedelta(seconds=max(MIN_DELAY, delay)))
        return dict(state="failed", last_error=str(exc)[:2000])
    except Exception as exc:  # noqa: BLE001 - a plugin bug after the call may hide a post
        log.exception("publisher: channel %s raised while publishing post %s", target.channel, post.id)
        return dict(state="unconfirmed", last_error=f"{type(exc).__name__}: {exc}"[:2000],
                    next_attempt_at=now() + dt.timedelta(seconds=settings.reconcile_delay_seconds))
    if store_now:
        await _store_now(site, target, _published(site, result))
        return None
    return _published(site, result)


async def _reconcile_target(site: Site, post: Post, target: PostTarget, report: PassReport,
                            store_now: bool) -> Change | None:
    """Look for the post on the channel; the target's new values."""
    settings = settings_of(site)
    now = site.now()
    try:
        found = _valid(await find_published(site, target.channel, publication_for(site, post, target.channel)))
    except Exception as exc:  # noqa: BLE001 - the channel cannot be read now: look again later
        log.warning("publisher: cannot look for post %s on %s: %s", post.id, target.channel, exc)
        return dict(last_error=f"check failed: {exc}"[:2000],
                    next_attempt_at=now + dt.timedelta(seconds=backoff(settings, target.checks + 1)))
    if found is not None:
        report.reconciled += 1
        if store_now:
            await _store_now(site, target, _published(site, found))
            return None
        return _published(site, found)
    checks = target.checks + 1
    if checks >= settings.reconcile_checks:
        return dict(state="failed", checks=checks, last_error=f"not found on {target.channel} after {checks} checks")
    delay = max(MIN_DELAY, settings.reconcile_delay_seconds * 2 ** (checks - 1))
    return dict(checks=checks, next_attempt_at=now + dt.timedelta(seconds=delay))


async def work(site: Site, post: Post, before: list[PostTarget], report: PassReport) -> str | None:
    """Publish (or reconcile) one claimed post, then settle it; its new state.

    With one channel (the usual case) the channel's id is written in the same
    transaction that settles the post — the first write after the call. With
    several, each id is written the moment its channel returns it, without
    waiting for the others."""
    now = site.now()
    due = [t for t in before
           if (post.state == "publishing" and t.state == "publishing")
           or (post.state == "unconfirmed" and t.state == "unconfirmed"
               and (t.next_attempt_at is None or t.next_attempt_at <= now))]
    store_now = len(due) > 1
    changes = await asyncio.gather(*(
        _publish_target(site, post, t, store_now) if post.state == "publishing"
        else _reconcile_target(site, post, t, report, store_now)
        for t in due
    ))
    return await settle(site, post, before, report, [(t, c) for t, c in zip(due, changes) if c is not None])


async def settle(site: Site, post: Post, before: list[PostTarget], report: PassReport,
                 changes: list[tuple[PostTarget, Change]] | None = None) -> str | None:
    """Write the targets' outcomes, then give the post the state its targets add up
    to, if the claim is still ours — one transaction."""
    async with site.db.write() as session:
        for target, change in changes or ():
            await _write(session, target, change)
        after = list((await session.exec(select(PostTarget).where(PostTarget.post_id == post.id))).all())
        state = await _settle(session, site, post, after)
    if state is None:
        return None
    report.outcomes[state] = report.outcomes.get(state, 0) + 1
    if state in ("published", "retrying", "failed", "unconfirmed"):
        setattr(report, state, getattr(report, state) + 1)
    await notices.settled(site, post, before, after, state)
    return state


async def _settle(session: Any, site: Site, post: Post, after: list[PostTarget]) -> str | None:
    states = {t.state for t in after}
    pending = [t.next_attempt_at for t in after if t.state in ("retrying", "pending", "unconfirmed") and t.next_attempt_at]
    now = site.now()
    if states <= {"published"}:
        state = "published"
    elif "unconfirmed" in states or "publishing" in states:
        state = "unconfirmed"
    elif states & {"retrying", "pending"}:
        state = "retrying"
    else:
        state = "failed"
    failures = "; ".join(f"{t.channel}: {t.last_error}" for t in after if t.state == "failed")
    values: dict[str, object] = dict(
        state=state, claim_token=None, lease_until=None, updated_at=now, version=Post.version + 1,
        next_attempt_at=min(pending) if pending and state in ("retrying", "unconfirmed") else None,
        reason=failures or None,
    )
    if state == "published":
        values["published_at"] = max((t.published_at for t in after if t.published_at), default=now)
    result = await session.exec(
        update(Post).where(col(Post.id) == post.id, Post.claim_token == post.claim_token).values(**values)
    )
    if not result.rowcount:
        log.warning("publisher: post %s was taken over by another worker; not settling", post.id)
        return None
    if state != post.state:
        note = "; ".join(f"{t.channel}: {t.state}" + (f" ({t.external_id})" if t.external_id else "") for t in after)
        session.add(PostEvent(post_id=post.id or 0, site_id=site.id, at=now, previous=post.state, state=state, note=note))
    return state


# --- the pass ------------------------------------------------------------------------


async def run_once(site: Site, *, max_batches: int = 10_000) -> PassReport:
    """One scheduler pass for ``site``: flag late posts, then claim and publish due
    posts batch after batch until none is due."""
    report = PassReport()
    await flag_late(site, report)
    # Bounded: every post in flight holds a database connection at times, and the
    # pool is shared with the rest of the worker.
    limit = asyncio.Semaphore(settings_of(site).concurrency)

    async def bounded(post: Post, targets_: list[PostTarget]) -> str | None:
        async with limit:
            return await work(site, post, targets_, report)

    for _ in range(max_batches):
        claimed = await claim_with_targets(site)
        if not claimed:
            break
        report.claimed += len(claimed)
        results = await asyncio.gather(*(bounded(post, t) for post, t in claimed), return_exceptions=True)
        for (post, _), outcome in zip(claimed, results):
            if isinstance(outcome, BaseException):
                # The post keeps its lease and is taken over as unconfirmed when it
                # runs out: nothing is lost, nothing is posted twice.
                log.error("publisher: post %s of site %s: %r", post.id, site.id, outcome)
    return report
