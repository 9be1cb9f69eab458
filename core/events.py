"""What core tells the bus after a commit, and the channels it tells it on.

* ``inbox:{site_id}`` carries everything agents see (including internal notes);
* ``conversation:{id}`` carries only what the citizen of that conversation may see.

Events carry the data a live view needs, plus the sequence number that lets a client
notice a gap and catch up from the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from canales.core.models import Conversation, Message

if TYPE_CHECKING:  # pragma: no cover
    from canales.core.bus import Bus
    from canales.core.site import Site


def inbox_channel(site_id: str) -> str:
    return f"inbox:{site_id}"


def conversation_channel(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def agent_channel(agent_id: int) -> str:
    """Events about one agent's access (sessions ended, roles changed): their live
    inbox sockets, in any worker, re-check their session when one arrives."""
    return f"agent:{agent_id}"


def message_dict(message: Message) -> dict[str, Any]:
    """A message as clients see it (agents; citizens get the same minus notes)."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "direction": message.direction,
        "author_kind": message.author_kind,
        "author_agent_id": message.author_agent_id,
        "channel": message.channel,
        "text": message.text,
        "buttons": message.payload.get("buttons", []),
        "visibility": message.visibility,
        "created_at": message.created_at.isoformat(),
        "occurred_at": message.occurred_at.isoformat(),
    }


def conversation_dict(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "state": conversation.state,
        "team": conversation.team,
        "assignee_id": conversation.assignee_id,
        "routing_rule": conversation.routing_rule,
        "after_hours": conversation.after_hours,
        "last_seq": conversation.last_seq,
        "contact_id": conversation.contact_id,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }


async def message_created(site: "Site", conversation: Conversation, message: Message) -> None:
    event = {"kind": "message", "message": message_dict(message)}
    await site.bus.publish(inbox_channel(site.id), event)
    if message.visibility != "internal":
        await site.bus.publish(conversation_channel(conversation.id or 0), event)


async def conversation_changed(site: "Site", conversation: Conversation) -> None:
    event = {"kind": "conversation", "conversation": conversation_dict(conversation)}
    await site.bus.publish(inbox_channel(site.id), event)
    await site.bus.publish(
        conversation_channel(conversation.id or 0),
        {"kind": "conversation", "conversation": {"id": conversation.id, "state": conversation.state}},
    )


async def delivery_changed(site: "Site", message_id: int, conversation_id: int, state: str) -> None:
    await site.bus.publish(
        inbox_channel(site.id),
        {"kind": "delivery", "message_id": message_id, "conversation_id": conversation_id, "state": state},
    )


async def access_changed(bus: "Bus", agent_id: int) -> None:
    """An agent's sessions or memberships changed: open sockets must re-check."""
    await bus.publish(agent_channel(agent_id), {"kind": "access_changed", "agent_id": agent_id})


async def typing(site: "Site", conversation_id: int, who: str, agent_id: int | None = None) -> None:
    """Someone is writing in a conversation: ``who`` is ``"citizen"`` (the channel
    tells the agents) or ``"agent"`` (the inbox tells other agents and the
    citizen's channel)."""
    event = {"kind": "typing", "conversation_id": conversation_id, "who": who, "agent_id": agent_id}
    await site.bus.publish(inbox_channel(site.id), event)
    if who == "agent":
        await site.bus.publish(conversation_channel(conversation_id), {"kind": "typing", "who": "agent"})
