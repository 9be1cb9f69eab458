"""Agents' browser sessions, stored server-side.

The cookie carries a random 256-bit token; the database keeps only its SHA-256, so
a leaked table opens no session. A session ends when the agent logs out, after
:data:`IDLE` without use or :data:`LIFETIME` in all, when the agent is deactivated,
and when the agent's ``session_epoch`` grows (a password change): every check
compares the session's epoch with the agent's.

Each session also has a CSRF token, derived from the cookie's token with HMAC, so
nothing more is stored and it changes whenever the session does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, update
from sqlmodel import col, select

from canales.core.db import Database
from canales.core.inbox.models import AgentSession
from canales.core.models import Agent

IDLE = dt.timedelta(hours=12)
LIFETIME = dt.timedelta(days=7)
# last_seen_at is refreshed at most this often: a read must not become a write.
TOUCH_EVERY = dt.timedelta(minutes=5)

COOKIE = "canales_session"
# Over HTTPS the cookie gets the __Host- prefix: Secure, Path=/, no Domain, so no
# sibling sub-domain can set or shadow it.
SECURE_COOKIE = "__Host-canales_session"
PRELOGIN_COOKIE = "canales_prelogin"
SECURE_PRELOGIN_COOKIE = "__Host-canales_prelogin"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(secret: str) -> str:
    """The CSRF token that goes with a session (or pre-login) cookie value."""
    return hmac.new(secret.encode(), b"canales-csrf", hashlib.sha256).hexdigest()


def csrf_matches(secret: str | None, given: str | None) -> bool:
    return bool(secret and given) and hmac.compare_digest(csrf_for(secret or ""), given or "")


@dataclass(frozen=True)
class ActiveSession:
    """A valid session and its agent."""

    session: AgentSession
    agent: Agent


def _valid(found: AgentSession, agent: Agent, now: dt.datetime) -> bool:
    """Not ended, not expired, not idle too long, agent active, password unchanged."""
    return (
        found.revoked_at is None
        and found.expires_at > now
        and found.last_seen_at + IDLE > now
        and agent.active
        and found.epoch == agent.session_epoch
    )


async def open_session(
    db: Database, agent: Agent, now: dt.datetime, *, ip: str | None, user_agent: str | None
) -> str:
    """Start a session for ``agent``; return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    async with db.write() as session:
        session.add(
            AgentSession(
                token_hash=token_hash(token),
                agent_id=agent.id or 0,
                epoch=agent.session_epoch,
                created_at=now,
                last_seen_at=now,
                expires_at=now + LIFETIME,
                ip=(ip or "")[:64] or None,
                user_agent=(user_agent or "")[:200] or None,
            )
        )
    return token


async def find_session(db: Database, token: str | None, now: dt.datetime) -> ActiveSession | None:
    """The valid session a cookie's token opens, or ``None`` (unknown, ended,
    expired, idle too long, agent deactivated or password changed since)."""
    if not token or len(token) > 128:
        return None
    async with db.read() as session:
        row = (
            await session.exec(
                select(AgentSession, Agent)
                .join(Agent, col(Agent.id) == AgentSession.agent_id)
                .where(AgentSession.token_hash == token_hash(token))
            )
        ).first()
    if row is None:
        return None
    found, agent = row
    if not _valid(found, agent, now):
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        async with db.write() as session:
            await session.exec(update(AgentSession).where(col(AgentSession.id) == found.id).values(last_seen_at=now))
    return ActiveSession(found, agent)


async def session_is_valid(db: Database, session_id: int, now: dt.datetime) -> bool:
    """Whether a session (by id) is still valid: for a live socket that
    re-checks the session it was opened with."""
    async with db.read() as session:
        row = (
            await session.exec(
                select(AgentSession, Agent)
                .join(Agent, col(Agent.id) == AgentSession.agent_id)
                .where(col(AgentSession.id) == session_id)
            )
        ).first()
    if row is None:
        return False
    return _valid(row[0], row[1], now)


async def end_session(db: Database, session_id: int, now: dt.datetime) -> None:
    """Log one session out."""
    async with db.write() as session:
        await session.exec(
            update(AgentSession)
            .where(col(AgentSession.id) == session_id, col(AgentSession.revoked_at).is_(None))
            .values(revoked_at=now)
        )


async def prune(db: Database, now: dt.datetime) -> int:
    """Delete sessions that ended more than a day ago."""
    cutoff = now - dt.timedelta(days=1)
    async with db.write() as session:
        result = await session.exec(
            delete(AgentSession).where(
                or_(
                    col(AgentSession.revoked_at) < cutoff,
                    col(AgentSession.expires_at) < cutoff,
                    col(AgentSession.last_seen_at) < cutoff - IDLE,
                )
            )
        )
    return int(result.rowcount or 0)
