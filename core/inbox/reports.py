"""A site's report for a period: volume by channel and by hour of day, time to
first response and to resolution (median and 90th percentile), the share of
conversations the bot solved alone, and the satisfaction survey's results.

Definitions (also in ``docs/inbox.md``):

* a conversation belongs to the period in which it started (site time zone);
* first response: from the moment it reached people (the bot's hand-off, else its
  start) to the first agent reply;
* resolution: from its start to its closing;
* the bot took part when it wrote at least one message; it solved the
  conversation alone when, besides, the conversation was never handed off, never
  assigned and no agent wrote;
* percentiles by the nearest-rank method.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import exists
from sqlmodel import col, select

from canales.core.models import Conversation, Message, Satisfaction
from canales.core.site import Site

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Whole days in the site's time zone: ``start`` inclusive, ``end`` exclusive."""

    first_day: dt.date
    last_day: dt.date
    zone: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), self.zone)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), self.zone)

    @classmethod
    def parse(cls, site: Site, start: str | None, end: str | None) -> "Period":
        """From ``YYYY-MM-DD`` values (default: the last 30 days); an invalid or
        reversed pair falls back to the default, a longer one is cut to a year."""
        zone = ZoneInfo(site.config.timezone)
        today = site.now().astimezone(zone).date()
        try:
            last = dt.date.fromisoformat(end) if end else today
            first = dt.date.fromisoformat(start) if start else last - dt.timedelta(days=29)
        except ValueError:
            last, first = today, today - dt.timedelta(days=29)
        if first > last:
            last, first = today, today - dt.timedelta(days=29)
        if (last - first).days >= MAX_DAYS:
            first = last - dt.timedelta(days=MAX_DAYS - 1)
        return cls(first, last, zone)


@dataclass(frozen=True)
class Duration:
    """Median and 90th percentile of some durations, in seconds."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: list[float]) -> "Duration":
        if not values:
            return cls(0, None, None)
        ordered = sorted(values)
        return cls(len(ordered), statistics.median(ordered), ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass
class ConversationFacts:
    """What the report needs about one conversation."""

    id: int
    channel: str
    team: str | None
    state: str
    created_at: dt.datetime
    first_response_seconds: float | None
    resolution_seconds: float | None
    bot_took_part: bool
    solved_by_bot: bool
    score: int | None


@dataclass
class Report:
    period: Period
    facts: list[ConversationFacts]
    by_channel: dict[str, int] = field(default_factory=dict)
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    first_response: Duration = Duration(0, None, None)
    resolution: Duration = Duration(0, None, None)
    with_bot: int = 0
    solved_by_bot: int = 0
    scores: dict[int, int] = field(default_factory=dict)
    average_score: float | None = None
    comments: list[tuple[dt.datetime, int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.facts)

    @property
    def bot_share(self) -> float | None:
        """Share of the conversations the bot took part in that it solved alone."""
        return self.solved_by_bot / self.with_bot if self.with_bot else None


def _handoff_at(conversation: Conversation) -> dt.datetime | None:
    handoff = conversation.data.get("handoff") if isinstance(conversation.data, dict) else None
    if not isinstance(handoff, dict) or not isinstance(handoff.get("at"), str):
        return None
    try:
        at = dt.datetime.fromisoformat(handoff["at"])
    except ValueError:
        return None
    return at if at.tzinfo else None


async def build(site: Site, period: Period) -> Report:
    """Compute the report in two queries (conversations with their facts, then
    the satisfaction comments)."""
    bot_wrote = exists().where(Message.conversation_id == Conversation.id, Message.author_kind == "bot")
    agent_wrote = exists().where(
        Message.conversation_id == Conversation.id, Message.author_kind == "agent", Message.visibility != "internal"
    )
    query = (
        select(Conversation, bot_wrote.label("bot"), agent_wrote.label("agent"), Satisfaction.score)
        .outerjoin(Satisfaction, col(Satisfaction.conversation_id) == Conversation.id)
        .where(
            Conversation.site_id == site.id,
            col(Conversation.created_at) >= period.start,
            col(Conversation.created_at) < period.end,
        )
        .order_by(col(Conversation.created_at))
    )
    async with site.db.read() as session:
        rows = (await session.exec(query)).all()
        comments = (
            await session.exec(
                select(Satisfaction.created_at, Satisfaction.score, Satisfaction.comment)
                .join(Conversation, col(Conversation.id) == Satisfaction.conversation_id)
                .where(
                    Satisfaction.site_id == site.id,
                    col(Satisfaction.comment).is_not(None),
                    col(Conversation.created_at) >= period.start,
                    col(Conversation.created_at) < period.end,
                )
                .order_by(col(Satisfaction.created_at).desc())
                .limit(20)
            )
        ).all()
    facts: list[ConversationFacts] = []
    for conversation, bot, agent, score in rows:
        handoff_at = _handoff_at(conversation)
        first = None
        if conversation.first_response_at is not None:
            reached = handoff_at if handoff_at and handoff_at <= conversation.first_response_at else conversation.created_at
            first = (conversation.first_response_at - reached).total_seconds()
        resolution = None
        if conversation.state == "closed" and conversation.closed_at is not None:
            resolution = (conversation.closed_at - conversation.created_at).total_seconds()
        facts.append(
            ConversationFacts(
                id=conversation.id or 0,
                channel=conversation.channel,
                team=conversation.team,
                state=conversation.state,
                created_at=conversation.created_at,
                first_response_seconds=first,
                resolution_seconds=resolution,
                bot_took_part=bool(bot),
                solved_by_bot=bool(bot) and handoff_at is None and conversation.assignee_id is None and not agent,
                score=score,
            )
        )
    report = Report(period=period, facts=facts)
    report.by_channel = dict(sorted(Counter(f.channel for f in facts).items(), key=lambda kv: (-kv[1], kv[0])))
    for f in facts:
        report.by_hour[f.created_at.astimezone(period.zone).hour] += 1
    report.first_response = Duration.of([f.first_response_seconds for f in facts if f.first_response_seconds is not None])
    report.resolution = Duration.of([f.resolution_seconds for f in facts if f.resolution_seconds is not None])
    report.with_bot = sum(f.bot_took_part for f in facts)
    report.solved_by_bot = sum(f.solved_by_bot for f in facts)
    scores = [f.score for f in facts if f.score is not None]
    report.scores = {s: scores.count(s) for s in range(1, 6)}
    report.average_score = statistics.fmean(scores) if scores else None
    report.comments = [(at, score, comment or "") for at, score, comment in comments]
    return report


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: Report) -> str:
    """One row per conversation of the period (for a spreadsheet)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["conversacion", "canal", "equipo", "estado", "inicio", "primera_respuesta_seg", "resolucion_seg", "bot_participo", "resuelta_por_bot", "satisfaccion"]
    )
    for f in report.facts:
        writer.writerow(
            [
                f.id,
                _cell(f.channel),
                _cell(f.team),
                f.state,
                f.created_at.astimezone(report.period.zone).isoformat(timespec="seconds"),
                "" if f.first_response_seconds is None else round(f.first_response_seconds),
                "" if f.resolution_seconds is None else round(f.resolution_seconds),
                "si" if f.bot_took_part else "no",
                "si" if f.solved_by_bot else "no",
                "" if f.score is None else f.score,
            ]
        )
    return out.getvalue()


def human_duration(seconds: float | None) -> str:
    """``95`` -> ``"1 min 35 s"``; ``None`` -> ``"—"``."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
