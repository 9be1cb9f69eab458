"""Recurring posts: the same news every year at a registration period, every month
at a payment date… A :class:`~models.Recurrence` holds an RFC 5545 rule; each
occurrence inside the next ``recurrence_horizon_days`` becomes a post of its own,
pending approval (its wording and dates are reviewed each time).

Generation is idempotent: a post per ``(recurrence, date)`` is guaranteed by a
unique constraint and an ``INSERT … ON CONFLICT DO NOTHING``, so any number of
workers may run it at once and re-running it creates nothing new.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from dateutil.rrule import rrulestr
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from canales.core.alerts import raise_alert
from canales.core.site import Site
from canales.plugins.publisher.drafts import PLUGIN, Checked, Draft, FieldError, PostInvalid, check, settings_of
from canales.plugins.publisher.models import Post, PostEvent, PostTarget, Recurrence, new_key
from canales.plugins.publisher.texts import label
from canales.plugins.publisher.timing import TimeRefused, zone
from canales.plugins.publisher.workflow import EDITOR_ROLES, NotAllowed, role_of

log = logging.getLogger("canales.publisher")
_TOO_OFTEN = ("SECONDLY", "MINUTELY", "HOURLY")


@dataclass(frozen=True)
class RecurringDraft:
    """A recurring post as an agent gives it: ``starts`` is the first occurrence's
    wall-clock time (``2026-03-01 10:00``) in ``timezone`` (default: the site's);
    ``rule`` an RRULE such as ``FREQ=YEARLY`` or ``FREQ=MONTHLY;BYMONTHDAY=1``."""

    summary: str
    link: str
    category: str
    rule: str
    starts: str
    channels: Sequence[str] | None = None
    timezone: str | None = None
    until: dt.date | None = None


def _rule(text: str, start: dt.datetime, until: dt.date | None) -> object:
    body = text.strip().removeprefix("RRULE:")
    freq = next((part.split("=", 1)[1].upper() for part in body.split(";") if part.upper().startswith("FREQ=")), "")
    if freq in _TOO_OFTEN:
        raise ValueError(f"FREQ={freq} is too often for posts; use DAILY or less often")
    rule = rrulestr(body, dtstart=start)
    if until is not None:
        rule = rule.replace(until=dt.datetime.combine(until, dt.time(23, 59)))  # type: ignore[attr-defined]
    return rule


def occurrences(rec: Recurrence, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.date, dt.datetime]]:
    """The recurrence's occurrences in ``[start, end)`` as ``(local date, UTC
    instant)``. Each is the same wall-clock time in the zone, across DST changes; a
    time skipped by a change moves forward by the gap."""
    tz = zone(rec.timezone)
    first = dt.datetime.fromisoformat(rec.starts_local)
    rule = _rule(rec.rule, first, rec.until)
    lo = start.astimezone(tz).replace(tzinfo=None) - dt.timedelta(days=1)
    hi = end.astimezone(tz).replace(tzinfo=None) + dt.timedelta(days=1)
    found = []
    for local in rule.between(lo, hi, inc=True):  # type: ignore[attr-defined]
        instant = local.replace(tzinfo=tz).astimezone(dt.timezone.utc)
        if start <= instant < end:
            found.append((local.date(), instant))
    return found


async def create_recurrence(site: Site, agent_id: int, draft: RecurringDraft) -> Recurrence:
    """Store a recurring post after checking its content, zone and rule (raises
    :class:`PostInvalid`, nothing stored). Its occurrences appear with the next
    :func:`generate`."""
    settings = settings_of(site)
    if await role_of(site, agent_id) not in EDITOR_ROLES:
        raise NotAllowed(label(settings.texts, "error.role.edit"))
    zone_name = draft.timezone or site.config.timezone
    try:
        tz = zone(zone_name)
        start = dt.datetime.fromisoformat(draft.starts.strip())
        if start.tzinfo is not None:
            start = start.astimezone(tz).replace(tzinfo=None)
        start = start.replace(second=0, microsecond=0)
    except TimeRefused:
        raise PostInvalid([FieldError("timezone", label(settings.texts, "error.timezone", value=zone_name))]) from None
    except ValueError:
        raise PostInvalid([FieldError("starts", label(settings.texts, "error.time.format", value=draft.starts[:40]))]) from None
    try:
        rule = _rule(draft.rule, start, draft.until)
    except (ValueError, TypeError) as exc:
        raise PostInvalid([FieldError("rule", label(settings.texts, "error.rule", reason=str(exc)))]) from None
    now = site.now()
    upcoming = rule.after(now.astimezone(tz).replace(tzinfo=None) + dt.timedelta(minutes=settings.min_lead_minutes))  # type: ignore[attr-defined]
    # The content is checked as the next occurrence's post would be.
    when = upcoming.replace(tzinfo=tz) if upcoming else now + dt.timedelta(days=1)
    checked = check(site, Draft(draft.summary, draft.link, draft.category, when, draft.channels, tz.key))
    rec = Recurrence(site_id=site.id, summary=checked.summary, link=checked.link, category=checked.category,
                     channels=list(checked.channels), rule=draft.rule.strip().removeprefix("RRULE:"),
                     starts_local=start.strftime("%Y-%m-%dT%H:%M"), timezone=tz.key, until=draft.until,
                     author_id=agent_id, created_at=now)
    async with site.db.write() as session:
        session.add(rec)
    return rec


async def generate(site: Site) -> int:
    """Create the posts of every active recurrence due within the horizon; return
    how many were new. Safe to run concurrently and repeatedly."""
    settings = settings_of(site)
    now = site.now()
    start = now + dt.timedelta(minutes=settings.min_lead_minutes)
    end = now + dt.timedelta(days=settings.recurrence_horizon_days)
    async with site.db.read() as session:
        recs = list((await session.exec(select(Recurrence).where(Recurrence.site_id == site.id,
                                                                 Recurrence.active == True))).all())  # noqa: E712
    insert = sqlite.insert if site.db.is_sqlite else postgresql.insert
    created = 0
    for rec in recs:
        for day, instant in occurrences(rec, start, end):
            try:
                checked = check(site, Draft(rec.summary, rec.link, rec.category, instant, rec.channels, rec.timezone))
            except PostInvalid as exc:
                # The allow-list or the channels changed since: say so, create nothing.
                log.warning("publisher: recurrence %s on %s is no longer valid: %s", rec.id, day, exc)
                reason = "; ".join(e.message for e in exc.errors)
                title = " ".join(rec.summary.split())[:60]
                await raise_alert(site, PLUGIN, f"recurrence-{rec.id}-invalid",
                                  label(settings.texts, "alert.recurrence", title=title, day=day.isoformat(),
                                        reason=reason))
                continue
            created += await _insert_occurrence(site, insert, rec, day, checked, now)
    return created


async def _insert_occurrence(site: Site, insert: object, rec: Recurrence, day: dt.date, checked: Checked,
                             now: dt.datetime) -> int:
    values = dict(site_id=site.id, key=new_key(), summary=checked.summary, link=checked.link,
                  category=checked.category, publish_at=checked.publish_at, timezone=checked.timezone,
                  state="pending_approval", author_id=rec.author_id, version=1, recurrence_id=rec.id,
                  occurrence=day, created_at=now, updated_at=now)
    statement = (
        insert(Post).values(**values)  # type: ignore[operator]
        .on_conflict_do_nothing(index_elements=["recurrence_id", "occurrence"])
        .returning(Post.id)
    )
    async with site.db.write() as session:
        post_id = (await session.exec(statement)).scalar()
        if post_id is None:
            return 0
        session.add_all([PostTarget(post_id=post_id, site_id=site.id, channel=c) for c in checked.channels])
        session.add(PostEvent(post_id=post_id, site_id=site.id, at=now, state="pending_approval",
                              agent_id=rec.author_id, note=f"recurrence {rec.id}"))
    return 1
