"""Chat sessions in the database: issuing a token, finding a session by token,
binding it to its conversation, recording how far the citizen has read.

The token is 256 random bits (``secrets.token_urlsafe(32)``), made by the server
only; the database keeps its SHA-256 (a fast hash is enough for a random secret of
that size: there is nothing to guess from it). A token is looked up together with
the site, so another site's token, a forged one and an expired one all come back
the same way: not found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select

from canales.core.site import Site
from canales.plugins.chat_human.models import ChatSession
from canales.plugins.chat_human.prechat import PrechatAnswers
# A session nobody wrote in for this long (the citizen opened the form and left)
# is removed by the clean-up job.
ABANDONED_AFTER = dt.timedelta(days=1)


def new_token() -> str:
    """A fresh citizen token: 256 bits from the operating system's CSPRNG."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def open_session(site: Site, answers: PrechatAnswers, origin: str | None) -> tuple[ChatSession, str]:
    """Store a new session; return it and its token (the only time the token
    exists on the server)."""
    token = new_token()
    now = site.now()
    session_row = ChatSession(
        site_id=site.id,
        key=secrets.token_hex(12),
        token_hash=token_hash(token),
        name=answers.name,
        email=answers.email,
        topic=answers.topic,
        origin=(origin or None) and origin[:255],
        privacy_accepted_at=now,
        created_at=now,
        last_seen_at=now,
    )
    async with site.db.write() as session:
        session.add(session_row)
        await session.flush()
    return session_row, token


async def find_session(site: Site, token: str) -> ChatSession | None:
    """The site's session holding ``token``, or ``None`` (whatever the reason)."""
    async with site.db.read() as session:
        found = (
            await session.exec(
                select(ChatSession).where(ChatSession.site_id == site.id, ChatSession.token_hash == token_hash(token))
            )
        ).first()
    if found is not None:
        async with site.db.write() as session:
            await session.exec(
                update(ChatSession).where(col(ChatSession.id) == found.id).values(last_seen_at=site.now())
            )
    return found


async def bind_conversation(site: Site, session_id: int, conversation_id: int) -> None:
    """Record the conversation the session's messages now go to."""
    async with site.db.write() as session:
        await session.exec(
            update(ChatSession)
            .where(col(ChatSession.id) == session_id, ChatSession.site_id == site.id)
            .values(conversation_id=conversation_id)
        )


async def mark_read(site: Site, session_id: int, seq: int) -> bool:
    """Move the citizen's read marker forward to ``seq``; false if it was there
    already (a marker never moves back)."""
    async with site.db.write() as session:
        result = await session.exec(
            update(ChatSession)
            .where(col(ChatSession.id) == session_id, col(ChatSession.citizen_read_seq) < seq)
            .values(citizen_read_seq=seq)
        )
    return bool(result.rowcount)


async def forget_abandoned(site: Site) -> int:
    """Delete sessions that never got a message (the citizen accepted the notice
    and left) once they are :data:`ABANDONED_AFTER` old. Returns how many."""
    async with site.db.write() as session:
        result = await session.exec(
            delete(ChatSession).where(
                ChatSession.site_id == site.id,
                col(ChatSession.conversation_id).is_(None),
                col(ChatSession.created_at) < site.now() - ABANDONED_AFTER,
            )
        )
    return int(result.rowcount or 0)


async def forget(site: Site, conversation_ids: list[int]) -> None:
    """Delete the sessions of these conversations — their token, form answers and
    read marker — for retention or an erasure request. Nothing in them is counted by
    reports, so anonymising deletes them too; the old token then resumes nothing."""
    async with site.db.write() as session:
        await session.exec(
            delete(ChatSession).where(
                ChatSession.site_id == site.id, col(ChatSession.conversation_id).in_(conversation_ids)
            )
        )


async def export(site: Site, key: str | None, conversation_ids: list[int]) -> list[dict[str, Any]]:
    """A contact's chat sessions for an access request (everything but the token's
    hash): ``key`` is the contact's id on the ``chat`` channel, if it is one."""
    match = col(ChatSession.conversation_id).in_(conversation_ids)
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(ChatSession)
                .where(ChatSession.site_id == site.id, or_(match, ChatSession.key == key) if key else match)
                .order_by(col(ChatSession.id))
            )
        ).all()
    return [
        {
            "conversation_id": row.conversation_id,
            "name": row.name,
            "email": row.email,
            "topic": row.topic,
            "origin": row.origin,
            "privacy_accepted_at": row.privacy_accepted_at.isoformat(),
            "created_at": row.created_at.isoformat(),
            "last_seen_at": row.last_seen_at.isoformat(),
            "read_up_to": row.citizen_read_seq,
        }
        for row in rows
    ]
