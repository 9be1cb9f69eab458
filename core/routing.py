"""Routing: deciding who handles a conversation, through the ``route_conversation``
hook, and recording the decision.

Core's own answer (in :mod:`canales.core.defaults`) is "the agents' queue"; the
chatbot answers "bot" for channels it serves; a routing plugin picks a team. The
decision is applied under a row lock, only if the conversation is still where it
was, so two workers routing the same
conversation at once cannot both win.
"""

from __future__ import annotations

import re

from sqlmodel import col, select

from canales.core import events
from canales.core.models import Conversation, Message
from canales.core.site import Site, await_all
from canales.core.types import Handoff, Routing

_HANDLER = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


class NotFound(LookupError):
    """The object does not exist on this site (another site's object is "not
    found" too, never "forbidden")."""


def state_for(routing: Routing) -> str:
    """The conversation state a routing decision puts it in."""
    if routing.to == "queue":
        return "queued"
    if routing.to in ("new", "assigned", "closed") or not _HANDLER.match(routing.to):
        raise ValueError(f"a routing decision cannot send a conversation to {routing.to!r}")
    return routing.to


def decide(site: Site, conversation: Conversation, message: Message, handoff: Handoff | None) -> Routing:
    """Ask the ``route_conversation`` hook (synchronous: it only decides)."""
    routing = site.hook.route_conversation(
        site=site, conversation=conversation, message=message, handoff=handoff
    )
    if not isinstance(routing, Routing):
        raise TypeError(
            f"route_conversation must return a Routing (synchronously), got {type(routing).__name__}"
        )
    return routing


async def apply_routing(
    site: Site, conversation: Conversation, message: Message, handoff: Handoff | None
) -> Conversation:
    """Ask the ``route_conversation`` hook, store its decision if the conversation
    is still where it was, then call ``conversation_routed``."""
    expected = conversation.state
    routing = decide(site, conversation, message, handoff)
    state = state_for(routing)
    now = site.now()
    async with site.db.write() as session:
        # Read the row locked (SQLite: the write lock is already ours), so that the
        # decision applies only if nobody moved the conversation meanwhile, and
        # ``data`` is extended from its current value, not from our copy.
        query = select(Conversation).where(
            col(Conversation.id) == conversation.id, Conversation.site_id == site.id
        )
        if not site.db.is_sqlite:
            query = query.with_for_update()
        fresh = (await session.exec(query)).one()
        changed = fresh.state == expected
        if changed:
            fresh.state = state
            fresh.team = routing.team
            fresh.routing_rule = routing.rule
            fresh.updated_at = now
            if handoff is not None:
                fresh.after_hours = not site.is_open(now)
                fresh.data = {
                    **fresh.data,
                    "handoff": {
                        "from": handoff.from_handler,
                        "reason": handoff.reason,
                        "intent": handoff.intent,
                        "summary": handoff.summary,
                        "at": now.isoformat(),
                    },
                }
            session.add(fresh)
            await session.flush()
            await session.refresh(fresh)
    if changed:
        await events.conversation_changed(site, fresh)
        await await_all(
            site.hook.conversation_routed(
                site=site, conversation=fresh, routing=routing, handoff=handoff
            )
        )
    return fresh


async def hand_off(site: Site, conversation_id: int, handoff: Handoff) -> Conversation:
    """A handler (the bot) gives the conversation up: route it again with the
    reason, so that it reaches people (or another handler). Raises
    :class:`NotFound` for a conversation that is not this site's or not open."""
    async with site.db.read() as session:
        row = (
            await session.exec(
                select(Conversation, Message)
                .join(Message, col(Message.conversation_id) == Conversation.id)
                .where(
                    col(Conversation.id) == conversation_id,
                    Conversation.site_id == site.id,
                    Message.direction == "in",
                )
                .order_by(col(Message.seq).desc())
                .limit(1)
            )
        ).first()
    if row is None or not row[0].is_open:
        raise NotFound(f"conversation {conversation_id} not found")
    conversation, last_message = row
    return await apply_routing(site, conversation, last_message, handoff=handoff)

