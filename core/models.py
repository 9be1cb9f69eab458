"""Core's tables: sites, contacts, conversations, messages, agents and the outbox.

Every row that belongs to a site carries ``site_id`` and every query filters on it:
another site's object is simply not found. Timestamps are UTC and timezone-aware.
Plugins add their own tables in their own modules (and Alembic branches).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from canales.core.db import UTCDateTime, utcnow

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ConversationState = Literal["new", "bot", "queued", "assigned", "closed"]
OPEN_STATES: tuple[str, ...] = ("new", "bot", "queued", "assigned")
AuthorKind = Literal["citizen", "agent", "bot", "system"]
Visibility = Literal["public", "private", "internal"]
Role = Literal["admin", "supervisor", "agent"]


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class SiteRow(SQLModel, table=True):
    """A site known to the database (kept in step with the site files at start-up)."""

    __tablename__ = "site"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow)


class Contact(SQLModel, table=True):
    """A citizen as one channel knows them (a Messenger PSID, a widget visitor, an
    API caller's user id). The same person on two channels is two contacts."""

    __table_args__ = (UniqueConstraint("site_id", "channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40, index=True)
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    last_seen_at: dt.datetime = _ts(default_factory=utcnow)


class Agent(SQLModel, table=True):
    """A person who answers in the inbox. Access to a site comes from a
    :class:`Membership`; ``session_epoch`` grows when the password changes or the
    agent is deactivated, which ends every session issued before."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    active: bool = True
    session_epoch: int = 0
    created_at: dt.datetime = _ts(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """An agent's role on one site. ``active`` false means the site's admin
    deactivated the agent there (without touching the agent's other sites)."""

    agent_id: int = Field(foreign_key="agent.id", primary_key=True)
    site_id: str = Field(foreign_key="site.id", primary_key=True, max_length=40)
    role: str = Field(default="agent", max_length=16)
    active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})


class Conversation(SQLModel, table=True):
    """A thread between a citizen and the site on one channel.

    ``state`` is who holds it: ``new`` (stored, not routed yet), ``bot``, ``queued``
    (waiting for an agent), ``assigned`` or ``closed``. At most one conversation per channel thread is open at
    a time (a partial unique index, so two concurrent first messages cannot open
    two). ``last_seq`` is the sequence number of its newest message.
    """

    __table_args__ = (
        Index(
            "uq_conversation_open_thread",
            "site_id",
            "channel",
            "thread_key",
            unique=True,
            sqlite_where=text("state != 'closed'"),
            postgresql_where=text("state != 'closed'"),
        ),
        Index("ix_conversation_site_state", "site_id", "state", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    channel: str = Field(max_length=32)
    thread_key: str = Field(max_length=255)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    state: str = Field(default="new", max_length=16)
    team: str | None = Field(default=None, max_length=64)
    assignee_id: int | None = Field(default=None, foreign_key="agent.id", index=True)
    routing_rule: str | None = Field(default=None, max_length=120)
    after_hours: bool = False
    last_seq: int = 0
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    last_citizen_at: dt.datetime | None = _ts(default=None)
    first_response_at: dt.datetime | None = _ts(default=None)
    closed_at: dt.datetime | None = _ts(default=None)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class Message(SQLModel, table=True):
    """One message of a conversation, in either direction, or an internal note.

    ``seq`` orders a conversation's messages (1, 2, 3…) and lets a reconnecting
    client ask for everything after the last one it has. ``external_id`` is the
    channel's id; one ``(site, channel, external_id)`` is stored once.
    ``visibility`` is ``public`` (a wall comment), ``private`` (a chat or direct
    message) or ``internal`` (an agents' note, never shown to the citizen).
    """

    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("site_id", "channel", "external_id"),
        Index(
            "ix_message_unhandled",
            "created_at",
            sqlite_where=text("handled_at IS NULL AND direction = 'in'"),
            postgresql_where=text("handled_at IS NULL AND direction = 'in'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    conversation_id: int = Field(foreign_key="conversation.id")
    seq: int
    direction: str = Field(max_length=3)  # "in" | "out"
    author_kind: str = Field(max_length=16)
    author_agent_id: int | None = Field(default=None, foreign_key="agent.id")
    channel: str = Field(max_length=32)
    external_id: str | None = Field(default=None, max_length=255)
    text: str = Field(sa_column=Column(Text, nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    visibility: str = Field(default="private", max_length=16)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    occurred_at: dt.datetime = _ts(default_factory=utcnow)
    # Citizen messages only: when the handler stage took it (routing, the bot…).
    # A message stored but not handled (a crash in between) is picked up later.
    handled_at: dt.datetime | None = _ts(default=None)


class Delivery(SQLModel, table=True):
    """The outbox: one row per reply to deliver, written in the same transaction as
    the reply. The relay claims rows atomically, marks them ``done`` only after the
    channel accepted them, and retries with backoff; ``key`` stays the same across
    retries so receivers can drop a repeat."""

    __table_args__ = (Index("ix_delivery_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    message_id: int = Field(foreign_key="message.id", sa_column_kwargs={"unique": True})
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    channel: str = Field(max_length=32)
    key: str = Field(
        default_factory=lambda: str(uuid.uuid4()),
        max_length=36,
        sa_column_kwargs={"unique": True},
    )
    state: str = Field(default="pending", max_length=16)  # pending|sending|done|failed
    attempts: int = 0
    outcome_unknown: bool = False
    next_attempt_at: dt.datetime = _ts(default_factory=utcnow)
    lease_until: dt.datetime | None = _ts(default=None)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    external_id: str | None = Field(default=None, max_length=255)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    done_at: dt.datetime | None = _ts(default=None)


class Alert(SQLModel, table=True):
    """Something the people running a site must act on, raised by a plugin."""

    __table_args__ = (Index("ix_alert_open", "site_id", "resolved_at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    plugin: str = Field(max_length=40)
    code: str = Field(max_length=64)
    level: str = Field(default="error", max_length=16)
    message: str = Field(sa_column=Column(Text, nullable=False))
    count: int = 1
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    resolved_at: dt.datetime | None = _ts(default=None)


class Team(SQLModel, table=True):
    """An area of a site that answers some conversations (``Conversation.team``
    holds its ``key``; routing rules name it)."""

    site_id: str = Field(foreign_key="site.id", primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)


class TeamMember(SQLModel, table=True):
    """An agent who answers for a team."""

    __tablename__ = "team_member"

    site_id: str = Field(foreign_key="site.id", primary_key=True, max_length=40)
    team: str = Field(primary_key=True, max_length=64)
    agent_id: int = Field(foreign_key="agent.id", primary_key=True)


class ConversationLabel(SQLModel, table=True):
    """A label agents put on a conversation (``reclamo``, ``urgente``…)."""

    __tablename__ = "conversation_label"
    __table_args__ = (Index("ix_conversation_label_site_name", "site_id", "name"),)

    conversation_id: int = Field(foreign_key="conversation.id", primary_key=True)
    name: str = Field(primary_key=True, max_length=40)
    site_id: str = Field(foreign_key="site.id", max_length=40)


class AgentConnection(SQLModel, table=True):
    """One live inbox socket of an agent, in any worker. The worker refreshes
    ``seen_at`` while the socket lives; an agent with a fresh row is online. A
    worker that dies leaves a row that goes stale, so presence never sticks."""

    __tablename__ = "agent_connection"

    id: str = Field(primary_key=True, max_length=32)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    opened_at: dt.datetime = _ts(default_factory=utcnow)
    seen_at: dt.datetime = _ts(default_factory=utcnow)


class AgentAvailability(SQLModel, table=True):
    """An agent's own "disponible / ausente" switch on one site (no row: available)."""

    __tablename__ = "agent_availability"

    agent_id: int = Field(foreign_key="agent.id", primary_key=True)
    site_id: str = Field(foreign_key="site.id", primary_key=True, max_length=40)
    available: bool = True
    changed_at: dt.datetime = _ts(default_factory=utcnow)


class Satisfaction(SQLModel, table=True):
    """A citizen's answer to the satisfaction survey: one per conversation."""

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40, index=True)
    conversation_id: int = Field(foreign_key="conversation.id", sa_column_kwargs={"unique": True})
    score: int
    comment: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = _ts(default_factory=utcnow)
