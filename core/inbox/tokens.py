"""API tokens: a program acting as one agent on one site through the JSON API.

An admin of the site issues a token for an agent of the site and sees it once; the
database keeps its SHA-256 (tokens are 256-bit random strings, so a fast hash is
enough). A token works only on its site, with the agent's current role there, and
stops working when it is revoked or the agent is deactivated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from canales.core.db import Database
from canales.core.inbox.models import ApiToken
from canales.core.models import Agent, Membership

PREFIX = "cnl_"
TOUCH_EVERY = dt.timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenAccess:
    """What a valid token opens: its agent, on its site, with this role."""

    token: ApiToken
    agent: Agent
    role: str


async def issue(db: Database, *, site_id: str, agent_id: int, name: str, by: int | None, now: dt.datetime) -> tuple[ApiToken, str]:
    """Create a token for an agent of the site; return the row and the token,
    which is shown once and never again."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        site_id=site_id, agent_id=agent_id, name=name, token_hash=_hash(token), hint=token[-4:], created_by=by, created_at=now
    )
    async with db.write() as session:
        session.add(row)
        await session.flush()
        await session.refresh(row)
    return row, token


async def authenticate(db: Database, token: str, now: dt.datetime) -> TokenAccess | None:
    """The access a presented token gives, or ``None``."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    async with db.read() as session:
        row = (
            await session.exec(
                select(ApiToken, Agent, Membership)
                .join(Agent, col(Agent.id) == ApiToken.agent_id)
                .join(
                    Membership,
                    (col(Membership.agent_id) == ApiToken.agent_id) & (col(Membership.site_id) == ApiToken.site_id),
                )
                .where(ApiToken.token_hash == _hash(token))
            )
        ).first()
    if row is None:
        return None
    found, agent, membership = row
    if found.revoked_at is not None or not agent.active or not membership.active:
        return None
    if found.last_used_at is None or now - found.last_used_at >= TOUCH_EVERY:
        async with db.write() as session:
            await session.exec(update(ApiToken).where(col(ApiToken.id) == found.id).values(last_used_at=now))
    return TokenAccess(found, agent, membership.role)


async def revoke(db: Database, site_id: str, token_id: int, now: dt.datetime) -> bool:
    """Revoke a token of the site; false if there is no such live token."""
    async with db.write() as session:
        result = await session.exec(
            update(ApiToken)
            .where(col(ApiToken.id) == token_id, ApiToken.site_id == site_id, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
    return bool(result.rowcount)


async def tokens_of_site(db: Database, site_id: str) -> list[tuple[ApiToken, str]]:
    """The site's tokens (newest first) with their agent's name."""
    async with db.read() as session:
        rows = (
            await session.exec(
                select(ApiToken, Agent.name)
                .join(Agent, col(Agent.id) == ApiToken.agent_id)
                .where(ApiToken.site_id == site_id)
                .order_by(col(ApiToken.id).desc())
            )
        ).all()
    return [(token, name) for token, name in rows]
