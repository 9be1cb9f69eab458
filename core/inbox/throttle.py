"""Login rate limiting, per account and per client address, over a sliding window.

Failed attempts are rows in the database, so that every worker counts the same
attempts. While a key is over its limit the password is not even checked (an
attacker gets no answer, and no Argon2 work is spent).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func
from sqlmodel import col, select

from canales.core.db import Database
from canales.core.inbox.models import LoginAttempt

WINDOW = dt.timedelta(minutes=15)
MAX_PER_ACCOUNT = 10
MAX_PER_IP = 30


def _keys(email: str, ip: str | None) -> list[tuple[str, str, int]]:
    keys = [("account", email.strip().lower()[:254], MAX_PER_ACCOUNT)]
    if ip:
        keys.append(("ip", ip[:254], MAX_PER_IP))
    return keys


async def retry_after(db: Database, email: str, ip: str | None, now: dt.datetime) -> int | None:
    """Seconds to wait before trying again, or ``None`` if a login may be tried."""
    wait = 0
    async with db.read() as session:
        for kind, key, limit in _keys(email, ip):
            count, oldest = (
                await session.exec(
                    select(func.count(), func.min(LoginAttempt.at)).where(
                        LoginAttempt.kind == kind, LoginAttempt.key == key, col(LoginAttempt.at) > now - WINDOW
                    )
                )
            ).one()
            if count >= limit and oldest is not None:
                wait = max(wait, int((oldest + WINDOW - now).total_seconds()) + 1)
    return wait or None


async def failed(db: Database, email: str, ip: str | None, now: dt.datetime) -> None:
    """Count one failed login against the account and the address."""
    async with db.write() as session:
        for kind, key, _ in _keys(email, ip):
            session.add(LoginAttempt(kind=kind, key=key, at=now))


async def succeeded(db: Database, email: str) -> None:
    """Forget the account's failures (not the address's) after a good login."""
    async with db.write() as session:
        await session.exec(
            delete(LoginAttempt).where(LoginAttempt.kind == "account", LoginAttempt.key == email.strip().lower())
        )


async def prune(db: Database, now: dt.datetime) -> int:
    """Delete attempts older than the window."""
    async with db.write() as session:
        result = await session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < now - WINDOW))
    return int(result.rowcount or 0)
