"""Search over the messages and contacts of the sites an agent works on.

Every query is parameterised. On PostgreSQL messages are matched with Spanish
full-text search (``websearch_to_tsquery('spanish', …)``, so "multas vencidas"
finds "multa vencida"; the GIN index ``ix_message_text_fts`` serves it); on SQLite
a case-insensitive ``LIKE`` with the wildcards escaped. Results respect roles: an
agent finds what they can see in the list, supervisors and admins everything of
their sites.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, literal_column, or_
from sqlmodel import col, select

from canales.core.db import Database
from canales.core.inbox.access import sees_everything, visible_to
from canales.core.models import Contact, Conversation, Message

MIN_QUERY, MAX_QUERY = 2, 200
LIMIT = 50
SPANISH = literal_column("'spanish'::regconfig")


@dataclass(frozen=True)
class MessageHit:
    site_id: str
    conversation_id: int
    message_id: int
    seq: int
    snippet: str
    author_kind: str
    visibility: str
    channel: str
    created_at: dt.datetime
    contact_name: str | None


@dataclass(frozen=True)
class ContactHit:
    site_id: str
    contact_id: int
    name: str | None
    channel: str
    external_id: str
    email: str | None
    phone: str | None
    conversation_id: int | None


def clean_query(value: Any) -> str:
    """The query as searched: collapsed whitespace, at most :data:`MAX_QUERY`
    characters; empty if shorter than :data:`MIN_QUERY`."""
    query = " ".join(str(value or "").replace("\x00", "").split())[:MAX_QUERY]
    return query if len(query) >= MIN_QUERY else ""


def _like_pattern(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _scope(roles: dict[str, str], agent_id: int) -> ColumnElement[bool]:
    """The conversations of ``roles``' sites that the agent may see."""
    everything = [s for s, r in roles.items() if sees_everything(r)]
    limited = [s for s, r in roles.items() if not sees_everything(r)]
    parts: list[ColumnElement[bool]] = []
    if everything:
        parts.append(col(Conversation.site_id).in_(everything))
    if limited:
        parts.append(col(Conversation.site_id).in_(limited) & visible_to("agent", agent_id))
    return or_(*parts) if parts else false()


def snippet(text: str, query: str, width: int = 90) -> str:
    """A short piece of ``text`` around the first word of ``query`` found in it."""
    lowered = text.lower()
    positions = [lowered.find(word) for word in query.lower().split() if lowered.find(word) >= 0]
    start = max(0, min(positions) - width // 2) if positions else 0
    piece = text[start : start + width * 2]
    return ("…" if start else "") + piece + ("…" if start + width * 2 < len(text) else "")


async def search_messages(db: Database, roles: dict[str, str], agent_id: int, query: str) -> list[MessageHit]:
    """Messages matching ``query`` (newest and best first), at most :data:`LIMIT`."""
    if not query or not roles:
        return []
    statement = (
        select(Message, Contact.name)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .join(Contact, col(Contact.id) == Conversation.contact_id)
        .where(_scope(roles, agent_id))
    )
    if db.is_sqlite:
        statement = statement.where(func.lower(Message.text).like(_like_pattern(query), escape="\\")).order_by(
            col(Message.created_at).desc()
        )
    else:
        document = func.to_tsvector(SPANISH, Message.text)
        ts_query = func.websearch_to_tsquery(SPANISH, query)
        statement = statement.where(document.op("@@")(ts_query)).order_by(
            func.ts_rank(document, ts_query).desc(), col(Message.created_at).desc()
        )
    async with db.read() as session:
        rows = (await session.exec(statement.limit(LIMIT))).all()
    return [
        MessageHit(
            site_id=m.site_id,
            conversation_id=m.conversation_id,
            message_id=m.id or 0,
            seq=m.seq,
            snippet=snippet(m.text, query),
            author_kind=m.author_kind,
            visibility=m.visibility,
            channel=m.channel,
            created_at=m.created_at,
            contact_name=name,
        )
        for m, name in rows
    ]


async def search_contacts(db: Database, roles: dict[str, str], agent_id: int, query: str) -> list[ContactHit]:
    """Contacts whose name, e-mail, phone or channel id contains ``query``, each
    with their latest conversation the agent may see."""
    if not query or not roles:
        return []
    pattern = _like_pattern(query)
    latest = (
        select(func.max(Conversation.id))
        .where(Conversation.contact_id == Contact.id, _scope(roles, agent_id))
        .correlate(Contact)
        .scalar_subquery()
    )
    matches = or_(
        *(func.lower(func.coalesce(column, "")).like(pattern, escape="\\") for column in (Contact.name, Contact.email, Contact.phone, Contact.external_id))
    )
    statement = (
        select(Contact, latest.label("conversation_id"))
        .where(col(Contact.site_id).in_(list(roles)), matches, latest.is_not(None))
        .order_by(col(Contact.last_seen_at).desc())
        .limit(LIMIT)
    )
    async with db.read() as session:
        rows = (await session.exec(statement)).all()
    return [
        ContactHit(
            site_id=c.site_id,
            contact_id=c.id or 0,
            name=c.name,
            channel=c.channel,
            external_id=c.external_id,
            email=c.email,
            phone=c.phone,
            conversation_id=conversation_id,
        )
        for c, conversation_id in rows
    ]
