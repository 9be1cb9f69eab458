"""The inbox's own tables: agents' sessions, login attempts (for rate limiting),
API tokens, canned answers and read markers. They live in core's migration branch."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from canales.core.db import UTCDateTime, utcnow


def _ts(**kwargs: object) -> object:
    return Field(sa_type=UTCDateTime, **kwargs)  # type: ignore[arg-type]


class AgentSession(SQLModel, table=True):
    """A logged-in browser. Only the SHA-256 of the cookie's random token is
    stored, so a copy of the table does not let anyone in. ``epoch`` is the agent's
    ``session_epoch`` at login: when it grows (a password change, a deactivation),
    the session is over."""

    __tablename__ = "agent_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    agent_id: int = Field(foreign_key="agent.id", index=True)
    epoch: int
    created_at: dt.datetime = _ts(default_factory=utcnow)
    last_seen_at: dt.datetime = _ts(default_factory=utcnow)
    expires_at: dt.datetime = _ts()
    revoked_at: dt.datetime | None = _ts(default=None)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=200)


class LoginAttempt(SQLModel, table=True):
    """A failed login, counted per account and per client address over a window.
    Kept in the database so that every worker sees the same count."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key", "kind", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # "account" | "ip"
    key: str = Field(max_length=254)
    at: dt.datetime = _ts(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A token with which a program acts as one agent on one site (JSON API).
    Stored as a SHA-256 hash; ``hint`` is its last characters, to tell tokens apart."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40, index=True)
    agent_id: int = Field(foreign_key="agent.id")
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    hint: str = Field(max_length=8)
    created_by: int | None = Field(default=None, foreign_key="agent.id")
    created_at: dt.datetime = _ts(default_factory=utcnow)
    last_used_at: dt.datetime | None = _ts(default=None)
    revoked_at: dt.datetime | None = _ts(default=None)


class CannedAnswer(SQLModel, table=True):
    """A site's prepared answer, with placeholders such as ``{nombre}``."""

    __tablename__ = "canned_answer"
    __table_args__ = (UniqueConstraint("site_id", "shortcut"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    shortcut: str = Field(max_length=40)
    title: str = Field(max_length=120)
    text: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: dt.datetime = _ts(default_factory=utcnow)


class ConversationRead(SQLModel, table=True):
    """How far an agent has read a conversation: unread = citizen messages with a
    higher sequence number."""

    __tablename__ = "conversation_read"

    agent_id: int = Field(foreign_key="agent.id", primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", primary_key=True)
    last_read_seq: int = 0
