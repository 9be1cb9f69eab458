"""Agents' presence: who is online (an inbox socket is alive in some worker) and who
is available ("disponible") on each site.

Presence is kept in the database so that every worker agrees: each live inbox
socket has an :class:`~canales.core.models.AgentConnection` row whose ``seen_at``
its worker refreshes every :data:`HEARTBEAT` seconds. An agent is online while one
of their rows is fresher than :data:`ONLINE_WINDOW`; a worker that dies simply stops
refreshing, so nobody stays "online" forever. Availability is the agent's own
switch per site (:class:`~canales.core.models.AgentAvailability`; no row means
available).

The live-chat plugin assigns conversations with :func:`available_agents`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlmodel import col, select

from canales.core import events
from canales.core.db import Database, upsert
from canales.core.models import Agent, AgentAvailability, AgentConnection, Conversation, Membership, TeamMember
from canales.core.site import Site

HEARTBEAT = 15.0
ONLINE_WINDOW = dt.timedelta(seconds=45)
# Rows this old belong to sockets long gone; they are deleted by prune().
STALE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class AvailableAgent:
    """An agent who can take a conversation now, with how many open
    conversations they already hold on the site (fewest first)."""

    agent_id: int
    name: str
    role: str
    open_conversations: int


async def connected(db: Database, agent_id: int, now: dt.datetime) -> str:
    """Record a new live socket of the agent; return its id (for heartbeats)."""
    connection_id = secrets.token_hex(16)
    async with db.write() as session:
        session.add(AgentConnection(id=connection_id, agent_id=agent_id, opened_at=now, seen_at=now))
    return connection_id


async def heartbeat(db: Database, connection_id: str, agent_id: int, now: dt.datetime) -> None:
    """Refresh a live socket's row (recreating it if a prune removed it)."""
    async with db.write() as session:
        await session.exec(
            upsert(
                db,
                AgentConnection,
                {"id": connection_id, "agent_id": agent_id, "opened_at": now, "seen_at": now},
                ["id"],
                ["seen_at"],
            )
        )


async def disconnected(db: Database, connection_id: str) -> None:
    """Forget a socket that closed."""
    async with db.write() as session:
        await session.exec(delete(AgentConnection).where(col(AgentConnection.id) == connection_id))


async def prune(db: Database, now: dt.datetime) -> int:
    """Delete rows of sockets that stopped refreshing long ago (a dead worker)."""
    async with db.write() as session:
        result = await session.exec(delete(AgentConnection).where(col(AgentConnection.seen_at) < now - STALE))
    return int(result.rowcount or 0)


async def online_agent_ids(site: Site, agent_ids: Iterable[int] | None = None) -> set[int]:
    """The agents (of ``agent_ids``, or any) with a live inbox socket now."""
    query = select(AgentConnection.agent_id).where(col(AgentConnection.seen_at) >= site.now() - ONLINE_WINDOW)
    if agent_ids is not None:
        query = query.where(col(AgentConnection.agent_id).in_(list(agent_ids)))
    async with site.db.read() as session:
        return set((await session.exec(query.distinct())).all())


async def availability(site: Site, agent_ids: Iterable[int]) -> dict[int, bool]:
    """Each agent's "disponible" switch on the site (true unless turned off)."""
    ids = list(agent_ids)
    found = {agent_id: True for agent_id in ids}
    if not ids:
        return found
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(AgentAvailability.agent_id, AgentAvailability.available).where(
                    AgentAvailability.site_id == site.id, col(AgentAvailability.agent_id).in_(ids)
                )
            )
        ).all()
    found.update(dict(rows))
    return found


async def set_available(site: Site, agent_id: int, available: bool) -> None:
    """Turn an agent's "disponible" switch on the site on or off, and tell the
    site's inbox (and the live chat, which may assign waiting chats)."""
    async with site.db.write() as session:
        await session.exec(
            upsert(
                site.db,
                AgentAvailability,
                {"agent_id": agent_id, "site_id": site.id, "available": available, "changed_at": site.now()},
                ["agent_id", "site_id"],
                ["available", "changed_at"],
            )
        )
    await publish(site, agent_id)


async def publish(site: Site, agent_id: int) -> None:
    """Tell the site's inbox that an agent's presence changed."""
    await site.bus.publish(events.inbox_channel(site.id), {"kind": "presence", "agent_id": agent_id})


async def is_available(site: Site, agent_id: int) -> bool:
    """Whether the agent can take a conversation on the site now: active, an
    active member, online and switched to "disponible"."""
    return any(a.agent_id == agent_id for a in await available_agents(site))


async def available_agents(site: Site, team: str | None = None) -> list[AvailableAgent]:
    """Agents who can take a conversation on the site now (of ``team``, if
    given), those holding the fewest open conversations first, in three queries."""
    query = (
        select(Agent.id, Agent.name, Membership.role)
        .join(Membership, col(Membership.agent_id) == Agent.id)
        .where(
            Membership.site_id == site.id,
            col(Membership.active).is_(True),
            col(Agent.active).is_(True),
            col(Agent.id).in_(
                select(AgentConnection.agent_id).where(col(AgentConnection.seen_at) >= site.now() - ONLINE_WINDOW)
            ),
            ~col(Agent.id).in_(
                select(AgentAvailability.agent_id).where(
                    AgentAvailability.site_id == site.id, col(AgentAvailability.available).is_(False)
                )
            ),
        )
    )
    if team is not None:
        query = query.where(
            col(Agent.id).in_(select(TeamMember.agent_id).where(TeamMember.site_id == site.id, TeamMember.team == team))
        )
    async with site.db.read() as session:
        agents = (await session.exec(query)).all()
        ids = [agent_id for agent_id, _, _ in agents]
        counts: dict[int, int] = {}
        if ids:
            counts = dict(
                (
                    await session.exec(
                        select(Conversation.assignee_id, func.count())
                        .where(
                            Conversation.site_id == site.id,
                            Conversation.state == "assigned",
                            col(Conversation.assignee_id).in_(ids),
                        )
                        .group_by(col(Conversation.assignee_id))
                    )
                ).all()
            )
    found = [
        AvailableAgent(agent_id=agent_id, name=name, role=role, open_conversations=counts.get(agent_id, 0))
        for agent_id, name, role in agents
        if agent_id is not None
    ]
    return sorted(found, key=lambda a: (a.open_conversations, a.agent_id))

