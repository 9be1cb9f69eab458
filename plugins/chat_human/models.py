"""The live chat's own table: one row per citizen chat session (one widget token).

Only the SHA-256 of the citizen's token is stored: the token itself exists in the
citizen's browser and in the one frame that handed it over. ``key`` is the
session's public name inside canales (the conversation's thread and the contact's
id on the ``chat`` channel); it is random so that it says nothing about other
sessions.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from canales.core.db import UTCDateTime, utcnow


class ChatSession(SQLModel, table=True):
    """A citizen's chat: their token (hashed), what the pre-chat form said, the
    conversation once the first message opened it, and how far they have read."""

    __tablename__ = "chat_session"

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    key: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id", index=True)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    topic: str | None = Field(default=None, max_length=80)
    origin: str | None = Field(default=None, max_length=255)
    privacy_accepted_at: dt.datetime = Field(sa_type=UTCDateTime)
    citizen_read_seq: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
