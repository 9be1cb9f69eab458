"""The chatbot's tables (Alembic branch ``chatbot``).

* ``chatbot_session``: what the bot remembers per conversation, with a lease so that
  two workers never run two turns of one conversation at once;
* ``chatbot_turn``: every turn, for the learning loop (and its review state);
* ``chatbot_example``: training examples added by admins from misunderstood
  questions, overlaid on the knowledge file's;
* ``chatbot_model``: model versions, each the content hash of its training data,
  with that data (a model is rebuilt from it; no pickles are stored).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from canales.core.db import UTCDateTime, utcnow

OUTCOMES = ("answered", "clarified", "out_of_scope", "handed_off")
REVIEW_STATES = ("new", "done", "ignored")


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class BotSession(SQLModel, table=True):
    __tablename__ = "chatbot_session"

    conversation_id: int = Field(foreign_key="conversation.id", primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    lease_token: str | None = Field(default=None, max_length=36)
    lease_until: dt.datetime | None = _ts(default=None)
    updated_at: dt.datetime = _ts(default_factory=utcnow)


class BotTurn(SQLModel, table=True):
    """One citizen message as the bot understood and answered it."""

    __tablename__ = "chatbot_turn"
    __table_args__ = (
        Index("ix_chatbot_turn_review", "site_id", "review", "created_at"),
        Index("ix_chatbot_turn_site_created", "site_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    message_id: int = Field(foreign_key="message.id", sa_column_kwargs={"unique": True})
    created_at: dt.datetime = _ts(default_factory=utcnow)
    text: str = Field(sa_column=Column(Text, nullable=False))
    intent: str | None = Field(default=None, max_length=100)
    confidence: float | None = None
    second_intent: str | None = Field(default=None, max_length=100)
    second_confidence: float | None = None
    outcome: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=40)
    source: str = Field(default="nlu", max_length=16)
    model: str | None = Field(default=None, max_length=64)
    feedback: str | None = Field(default=None, max_length=8)
    feedback_at: dt.datetime | None = _ts(default=None)
    resolved_intent: str | None = Field(default=None, max_length=100)
    review: str | None = Field(default=None, max_length=16)
    reviewed_at: dt.datetime | None = _ts(default=None)
    reviewed_by: int | None = Field(default=None, foreign_key="agent.id")
    assigned_intent: str | None = Field(default=None, max_length=100)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class BotExample(SQLModel, table=True):
    """A training example added from the review of misunderstood questions."""

    __tablename__ = "chatbot_example"
    __table_args__ = (UniqueConstraint("site_id", "normalized"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    intent: str = Field(max_length=100)
    text: str = Field(sa_column=Column(Text, nullable=False))
    normalized: str = Field(max_length=600)
    turn_id: int | None = Field(default=None, foreign_key="chatbot_turn.id")
    created_by: int | None = Field(default=None, foreign_key="agent.id")
    created_at: dt.datetime = _ts(default_factory=utcnow)


class BotModel(SQLModel, table=True):
    """A model version: ``digest`` hashes the pipeline and the training data."""

    __tablename__ = "chatbot_model"
    __table_args__ = (
        UniqueConstraint("site_id", "digest"),
        Index("ix_chatbot_model_active", "site_id", "active"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    digest: str = Field(max_length=64)
    pipeline: str = Field(max_length=80)
    knowledge_digest: str = Field(max_length=64)
    examples: list[Any] = Field(default_factory=list, sa_type=JSON)
    synonyms: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    n_examples: int = 0
    n_intents: int = 0
    n_added: int = 0
    active: bool = False
    train_seconds: float = 0.0
    created_by: str = Field(default="startup", max_length=40)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    activated_at: dt.datetime | None = _ts(default=None)
