"""The Facebook channel's own tables (Alembic branch ``facebook``).

Citizens' messages and comments live in core's tables; these hold what only this
channel needs: the raw webhook bodies until processed, events it ignored or could
not read, what the page itself created (to recognise echoes and its own comments and
to reconcile unknown outcomes), the one private reply per comment, the page's health
and the acknowledgement clock of each conversation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from canales.core.db import UTCDateTime, utcnow


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class FacebookWebhook(SQLModel, table=True):
    """A webhook body as Meta sent it, stored before the 200 and processed after.

    ``digest`` (SHA-256 of the body) is unique per site: Meta's redelivery of the same
    body is stored once. ``state`` is ``received`` until every event of it was
    handled (a crash leaves it ``received`` and the recovery job takes it again).
    """

    __tablename__ = "facebook_webhook"
    __table_args__ = (
        UniqueConstraint("site_id", "digest"),
        Index("ix_facebook_webhook_pending", "state", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    digest: str = Field(max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="received", max_length=16)
    attempts: int = 0
    received_at: dt.datetime = _ts(default_factory=utcnow)
    claimed_at: dt.datetime | None = _ts(default=None)
    processed_at: dt.datetime | None = _ts(default=None)


class FacebookEvent(SQLModel, table=True):
    """An event that was not turned into a message: ``ignored`` (a read receipt, an
    echo of a message written outside canales, an unknown type) or ``dead`` (it
    could not be read; kept for people to look at)."""

    __tablename__ = "facebook_event"
    __table_args__ = (Index("ix_facebook_event_object", "site_id", "object_id"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    webhook_id: int | None = Field(default=None, foreign_key="facebook_webhook.id", ondelete="SET NULL")
    kind: str = Field(max_length=64)
    status: str = Field(max_length=16)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    object_id: str | None = Field(default=None, max_length=255)
    event: Any = Field(default=None, sa_type=JSON)
    occurred_at: dt.datetime | None = _ts(default=None)
    created_at: dt.datetime = _ts(default_factory=utcnow)


class FacebookObject(SQLModel, table=True):
    """Something the page created or sent: a comment, a Messenger message (from our
    Send API call or from its echo), a post. ``delivery_key`` links it to the outbox
    delivery that made it, so an unknown outcome can be reconciled."""

    __tablename__ = "facebook_object"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    kind: str = Field(max_length=16)
    external_id: str = Field(max_length=255)
    delivery_key: str | None = Field(default=None, max_length=64, index=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)


class FacebookPrivateReply(SQLModel, table=True):
    """The one private reply Meta allows per comment, claimed *before* the call.

    ``state``: ``sending`` (claimed), ``sent`` (Meta accepted it; ``notice_id`` is
    the public "we wrote to you" comment once posted), ``failed`` (Meta refused it;
    the claim is released)."""

    __tablename__ = "facebook_private_reply"
    __table_args__ = (UniqueConstraint("site_id", "comment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    comment_id: str = Field(max_length=255)
    conversation_id: int = Field(foreign_key="conversation.id")
    message_id: int = Field(foreign_key="message.id")
    delivery_key: str = Field(max_length=64)
    state: str = Field(default="sending", max_length=16)
    mid: str | None = Field(default=None, max_length=255)
    notice_id: str | None = Field(default=None, max_length=255)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)


class FacebookPage(SQLModel, table=True):
    """The page's health as every worker sees it: a token to renew, a policy block
    (circuit breaker), a rate-limit pause, a lost webhook subscription."""

    __tablename__ = "facebook_page"

    site_id: str = Field(foreign_key="site.id", primary_key=True, max_length=40)
    reconnect_needed: bool = False
    blocked_until: dt.datetime | None = _ts(default=None)
    throttled_until: dt.datetime | None = _ts(default=None)
    unsubscribed: bool = False
    usage: Any = Field(default=None, sa_type=JSON)
    checked_at: dt.datetime | None = _ts(default=None)
    updated_at: dt.datetime = _ts(default_factory=utcnow)


class FacebookAck(SQLModel, table=True):
    """When a conversation was last acknowledged automatically (at most once per
    period; the row is claimed with a conditional update)."""

    __tablename__ = "facebook_ack"

    conversation_id: int = Field(foreign_key="conversation.id", primary_key=True)
    site_id: str = Field(foreign_key="site.id", max_length=40)
    acked_at: dt.datetime = _ts(default_factory=utcnow)
