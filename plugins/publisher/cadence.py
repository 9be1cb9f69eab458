"""The calendar's data: week and month views of a site's posts, and the cadence
monitor — each ISO week (in the site's time zone) against the 3–6 posts target,
with warnings for coming weeks and free slots to fill them.

Weeks run Monday 00:00 to Monday 00:00 *local* time, so a week that contains a
daylight-saving change is 167 or 169 hours long and a post at 23:30 on Sunday
stays in its own week.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from canales.core.site import Site
from canales.plugins.publisher.drafts import settings_of
from canales.plugins.publisher.models import COMMITTED, Post, PostTarget
from canales.plugins.publisher.texts import label

SHOWN = ("draft", "pending_approval", "scheduled", "publishing", "retrying", "published", "failed",
         "unconfirmed", "expired", "missed")


@dataclass(frozen=True)
class Entry:
    """One post on the calendar."""

    id: int
    state: str
    state_label: str
    category: str
    category_label: str
    summary: str
    link: str
    publish_at: dt.datetime
    local_time: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Slot:
    """A free moment the monitor proposes for a post."""

    at: dt.datetime
    local: str


@dataclass(frozen=True)
class WeekCadence:
    """One ISO week against the target. ``count`` are the posts that will go (or
    went) out; ``pending`` await approval. ``warn`` is set for a week still to come
    that is outside the target."""

    year: int
    week: int
    start: dt.datetime
    end: dt.datetime
    count: int
    pending: int
    status: str  # "low" | "ok" | "high"
    warn: bool
    message: str
    suggestions: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class Day:
    date: dt.date
    closed: str | None
    in_month: bool
    entries: list[Entry]


@dataclass(frozen=True)
class WeekView:
    days: list[Day]
    cadence: WeekCadence


@dataclass(frozen=True)
class MonthView:
    year: int
    month: int
    weeks: list[WeekView]


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.timezone.utc)


def week_bounds(site: Site, year: int, week: int) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants at which ISO week ``year``-W``week`` starts and ends locally."""
    monday = dt.date.fromisocalendar(year, week, 1)
    return _midnight(monday, site.config.tz), _midnight(monday + dt.timedelta(days=7), site.config.tz)


async def _entries(site: Site, start: dt.datetime, end: dt.datetime) -> list[Entry]:
    texts = settings_of(site).texts
    tz = site.config.tz
    async with site.db.read() as session:
        posts = list((await session.exec(
            select(Post).where(Post.site_id == site.id, col(Post.state).in_(SHOWN),
                               col(Post.publish_at) >= start, col(Post.publish_at) < end)
            .order_by(col(Post.publish_at), col(Post.id))
        )).all())
        ids = [p.id for p in posts]
        rows = (await session.exec(select(PostTarget.post_id, PostTarget.channel)
                                   .where(col(PostTarget.post_id).in_(ids)))).all() if ids else []
    channels: dict[int, list[str]] = {}
    for post_id, channel in rows:
        channels.setdefault(post_id, []).append(channel)
    return [
        Entry(p.id or 0, p.state, label(texts, f"state.{p.state}"), p.category, label(texts, f"category.{p.category}"),
              p.summary, p.link, p.publish_at, p.publish_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
              tuple(sorted(channels.get(p.id or 0, []))))
        for p in posts
    ]


def free_slots(site: Site, monday: dt.date, used: Iterable[dt.date], limit: int,
               now: dt.datetime) -> list[Slot]:
    """Up to ``limit`` free slots in the week of ``monday``: working days (Monday to
    Friday, not a holiday or closure) without a post yet, at the first of the
    settings' ``slot_times`` that falls inside business hours and is far enough
    ahead."""
    settings = settings_of(site)
    tz = site.config.tz
    taken = set(used)
    earliest = now + dt.timedelta(minutes=settings.min_lead_minutes)
    found: list[Slot] = []
    for offset in range(5):
        if len(found) >= limit:
            break
        day = monday + dt.timedelta(days=offset)
        if day in taken or site.hours.closed_reason(day) is not None:
            continue
        for at in settings.slots():
            local = dt.datetime.combine(day, at, tzinfo=tz)
            instant = local.astimezone(dt.timezone.utc)
            if instant >= earliest and site.hours.is_open(instant):
                found.append(Slot(instant, local.strftime("%Y-%m-%d %H:%M")))
                break
    return found


def _cadence(site: Site, year: int, week: int, entries: Sequence[Entry], now: dt.datetime) -> WeekCadence:
    settings = settings_of(site)
    start, end = week_bounds(site, year, week)
    tz = site.config.tz
    count = sum(1 for e in entries if e.state in COMMITTED)
    pending = sum(1 for e in entries if e.state == "pending_approval")
    status = "low" if count < settings.weekly_min else "high" if count > settings.weekly_max else "ok"
    params = dict(week=f"{year}-W{week:02d}", count=count, min=settings.weekly_min, max=settings.weekly_max)
    message = label(settings.texts, f"cadence.{status}", **params)
    used = {e.publish_at.astimezone(tz).date() for e in entries if e.state in COMMITTED + ("pending_approval",)}
    room = max(settings.weekly_max - count - pending, 0)
    suggestions = free_slots(site, dt.date.fromisocalendar(year, week, 1), used, room, now) if end > now else []
    return WeekCadence(year, week, start, end, count, pending, status, end > now and status != "ok", message, suggestions)


async def week_view(site: Site, day: dt.date) -> WeekView:
    """The ISO week that contains ``day`` (a local date): its seven days, their
    posts and holidays, and its cadence."""
    year, week, _ = day.isocalendar()
    start, end = week_bounds(site, year, week)
    entries = await _entries(site, start, end)
    return _week(site, year, week, entries, None)


def _week(site: Site, year: int, week: int, entries: list[Entry], month: int | None) -> WeekView:
    tz = site.config.tz
    monday = dt.date.fromisocalendar(year, week, 1)
    days = []
    for offset in range(7):
        day = monday + dt.timedelta(days=offset)
        mine = [e for e in entries if e.publish_at.astimezone(tz).date() == day]
        days.append(Day(day, site.hours.closed_reason(day), month is None or day.month == month, mine))
    return WeekView(days, _cadence(site, year, week, entries, site.now()))


async def month_view(site: Site, year: int, month: int) -> MonthView:
    """The ISO weeks that overlap ``month`` (days of the neighbouring months marked
    ``in_month=False``), each with its cadence."""
    first = dt.date(year, month, 1)
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    monday = first - dt.timedelta(days=first.weekday())
    tz = site.config.tz
    start = _midnight(monday, tz)
    weeks_count = ((last - monday).days // 7) + 1
    end = _midnight(monday + dt.timedelta(days=7 * weeks_count), tz)
    entries = await _entries(site, start, end)
    weeks = []
    for i in range(weeks_count):
        iso_year, iso_week, _ = (monday + dt.timedelta(days=7 * i)).isocalendar()
        w_start, w_end = week_bounds(site, iso_year, iso_week)
        mine = [e for e in entries if w_start <= e.publish_at < w_end]
        weeks.append(_week(site, iso_year, iso_week, mine, month))
    return MonthView(year, month, weeks)


async def cadence(site: Site, weeks: int = 4, *, today: dt.date | None = None) -> list[WeekCadence]:
    """The cadence of the current ISO week and the ``weeks - 1`` that follow."""
    tz = site.config.tz
    today = today or site.now().astimezone(tz).date()
    monday = today - dt.timedelta(days=today.weekday())
    start = _midnight(monday, tz)
    end = _midnight(monday + dt.timedelta(days=7 * weeks), tz)
    entries = await _entries(site, start, end)
    result = []
    for i in range(weeks):
        year, week, _ = (monday + dt.timedelta(days=7 * i)).isocalendar()
        w_start, w_end = week_bounds(site, year, week)
        result.append(_cadence(site, year, week, [e for e in entries if w_start <= e.publish_at < w_end], site.now()))
    return result
