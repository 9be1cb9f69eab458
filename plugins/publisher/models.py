"""The publisher's tables: posts, their per-channel targets, the history of each
post's states, and recurring posts.

A post's ``publish_at`` is a UTC instant; ``timezone`` is the IANA zone its time was
given in, so that "10:00" means 10:00 in Montevideo (or Madrid) on that very day,
daylight saving or not. No naive timestamp is ever stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from canales.core.db import UTCDateTime, utcnow

# The workflow (docs/publisher.md draws it). Editable: nothing has gone out yet.
STATES = (
    "draft", "pending_approval", "scheduled", "publishing", "retrying",
    "published", "failed", "unconfirmed", "cancelled", "expired", "missed",
)
EDITABLE = ("draft", "pending_approval", "scheduled", "expired", "missed")
CANCELLABLE = ("draft", "pending_approval", "scheduled", "expired", "missed")
# States whose post will go (or went) out: what the cadence monitor counts.
COMMITTED = ("scheduled", "publishing", "retrying", "unconfirmed", "published")
TARGET_STATES = ("pending", "publishing", "retrying", "unconfirmed", "published", "failed")

CATEGORIES = (
    "beneficio", "periodo_inscripcion", "tramite_temporada", "campana", "canal_atencion", "otro",
)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def new_key() -> str:
    return str(uuid.uuid4())


class Recurrence(SQLModel, table=True):
    """A post that comes back (every year at a registration period, every month…).

    ``rule`` is an RFC 5545 RRULE (``FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1``) applied to
    ``starts_local`` (a wall-clock time in ``timezone``). Each occurrence becomes a
    post of its own, pending approval, created once (unique per date).
    """

    __tablename__ = "publisher_recurrence"

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40, index=True)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    link: str = Field(max_length=2000)
    category: str = Field(max_length=32)
    channels: list[str] = Field(default_factory=list, sa_type=JSON)
    rule: str = Field(max_length=500)
    starts_local: str = Field(max_length=16)  # "YYYY-MM-DDTHH:MM", wall clock in timezone
    timezone: str = Field(max_length=64)
    until: dt.date | None = None
    author_id: int = Field(foreign_key="agent.id")
    active: bool = True
    created_at: dt.datetime = _ts(default_factory=utcnow)


class Post(SQLModel, table=True):
    """A planned post: a summary and a link, for one or more channels, at one time.

    The scheduler claims it (``state`` ``scheduled`` -> ``publishing``) in one
    conditional update; ``claim_token`` names the claim, so a worker whose lease ran
    out cannot settle a post another worker has since taken over.
    """

    __tablename__ = "publisher_post"
    __table_args__ = (
        Index("ix_publisher_post_due", "state", "publish_at"),
        Index("ix_publisher_post_next", "state", "next_attempt_at"),
        Index("ix_publisher_post_site_time", "site_id", "publish_at"),
        UniqueConstraint("site_id", "source_key"),
        UniqueConstraint("recurrence_id", "occurrence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    key: str = Field(default_factory=new_key, max_length=36, sa_column_kwargs={"unique": True})
    summary: str = Field(sa_column=Column(Text, nullable=False))
    link: str = Field(max_length=2000)
    category: str = Field(max_length=32)
    publish_at: dt.datetime = _ts()
    timezone: str = Field(max_length=64)
    state: str = Field(default="draft", max_length=20)
    author_id: int = Field(foreign_key="agent.id")
    approved_by_id: int | None = Field(default=None, foreign_key="agent.id")
    approved_at: dt.datetime | None = _ts(default=None)
    version: int = 1
    claim_token: str | None = Field(default=None, max_length=36)
    lease_until: dt.datetime | None = _ts(default=None)
    next_attempt_at: dt.datetime | None = _ts(default=None)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    published_at: dt.datetime | None = _ts(default=None)
    recurrence_id: int | None = Field(default=None, foreign_key="publisher_recurrence.id")
    occurrence: dt.date | None = None
    source_key: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)


class PostTarget(SQLModel, table=True):
    """One channel of a post, with its own state and the channel's post id.

    ``pending`` -> ``publishing`` (recorded before the call) -> ``published`` (with
    ``external_id``, stored the moment the channel returns it) | ``retrying`` |
    ``unconfirmed`` (outcome unknown: looked for, never re-posted) | ``failed``.
    """

    __tablename__ = "publisher_target"
    __table_args__ = (UniqueConstraint("post_id", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="publisher_post.id", index=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    channel: str = Field(max_length=32)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    checks: int = 0
    next_attempt_at: dt.datetime | None = _ts(default=None)
    external_id: str | None = Field(default=None, max_length=255)
    url: str | None = Field(default=None, max_length=2000)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    published_at: dt.datetime | None = _ts(default=None)


class PostEvent(SQLModel, table=True):
    """The history of a post: each change of state, who made it and why."""

    __tablename__ = "publisher_event"

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="publisher_post.id", index=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    at: dt.datetime = _ts(default_factory=utcnow)
    previous: str | None = Field(default=None, max_length=20)
    state: str = Field(max_length=20)
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    channel: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, sa_column=Column(Text))
