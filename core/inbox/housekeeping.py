"""Deleting what the inbox no longer needs: ended sessions, old failed-login
records, rows of sockets whose worker died."""

from __future__ import annotations

from canales.core import presence
from canales.core.inbox import sessions, throttle
from canales.core.site import Site

INTERVAL = 600.0


async def tidy(site: Site) -> None:
    """One pass; idempotent, safe in any number of workers at once."""
    now = site.now()
    await sessions.prune(site.db, now)
    await throttle.prune(site.db, now)
    await presence.prune(site.db, now)
