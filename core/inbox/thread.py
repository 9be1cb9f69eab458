"""A conversation's thread as the inbox shows it: every message in order with its
author and, for replies, the state of its delivery; plus read markers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from canales.core.db import upsert
from canales.core.inbox.models import ConversationRead
from canales.core.models import Agent, Delivery, Membership, Message, Satisfaction, Team
from canales.core.site import Site

MAX_THREAD = 500
DELIVERY_NAMES = {
    "pending": "En cola para enviar",
    "sending": "Enviando",
    "done": "Entregado",
    "failed": "No se pudo entregar",
}


@dataclass(frozen=True)
class ThreadItem:
    """One message, the name of the agent who wrote it, and its delivery (replies)."""

    message: Message
    agent_name: str | None
    delivery: Delivery | None


def _query(site: Site, conversation_id: int):  # type: ignore[no-untyped-def]
    return (
        select(Message, Agent.name, Delivery)
        .outerjoin(Agent, col(Agent.id) == Message.author_agent_id)
        .outerjoin(Delivery, col(Delivery.message_id) == Message.id)
        .where(Message.site_id == site.id, Message.conversation_id == conversation_id)
    )


async def thread(site: Site, conversation_id: int, after: int = 0) -> list[ThreadItem]:
    """Messages after sequence number ``after``, oldest first (the newest
    :data:`MAX_THREAD` when there are more), in one query."""
    query = _query(site, conversation_id).where(col(Message.seq) > after).order_by(col(Message.seq).desc()).limit(MAX_THREAD)
    async with site.db.read() as session:
        rows = (await session.exec(query)).all()
    return [ThreadItem(m, name, d) for m, name, d in reversed(rows)]


async def item(site: Site, conversation_id: int, message_id: int) -> ThreadItem | None:
    """One message of the conversation (to refresh its delivery state)."""
    async with site.db.read() as session:
        row = (await session.exec(_query(site, conversation_id).where(col(Message.id) == message_id))).first()
    return ThreadItem(*row) if row else None


async def mark_read(site: Site, agent_id: int, conversation_id: int, seq: int) -> None:
    """Record that the agent has seen the conversation up to ``seq``."""
    async with site.db.write() as session:
        await session.exec(
            upsert(
                site.db,
                ConversationRead,
                {"agent_id": agent_id, "conversation_id": conversation_id, "last_read_seq": seq},
                ["agent_id", "conversation_id"],
                ["last_read_seq"],
            )
        )


async def site_agents(site: Site) -> list[tuple[int, str, str]]:
    """Active agents of the site (id, name, role), by name: transfer targets."""
    async with site.db.read() as session:
        rows = (
            await session.exec(
                select(Agent.id, Agent.name, Membership.role)
                .join(Membership, col(Membership.agent_id) == Agent.id)
                .where(Membership.site_id == site.id, col(Membership.active).is_(True), col(Agent.active).is_(True))
                .order_by(col(Agent.name))
            )
        ).all()
    return [(agent_id or 0, name, role) for agent_id, name, role in rows]


async def site_teams(site: Site) -> list[Team]:
    async with site.db.read() as session:
        return list((await session.exec(select(Team).where(Team.site_id == site.id).order_by(col(Team.name)))).all())


async def satisfaction_of(site: Site, conversation_id: int) -> Satisfaction | None:
    async with site.db.read() as session:
        return (
            await session.exec(
                select(Satisfaction).where(Satisfaction.site_id == site.id, Satisfaction.conversation_id == conversation_id)
            )
        ).first()
